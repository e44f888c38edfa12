//! The openidconnect client type portcullis uses: the core types, except that ID-token and
//! userinfo claims keep every claim the IdP sends (`groups`, custom claims), and discovery
//! reads `end_session_endpoint` (RP-initiated logout).

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, Client, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenFields, StandardErrorResponse, StandardTokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Claims beyond the standard ones (openidconnect filters the standard ones out).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ExtraClaims(pub(crate) Map<String, Value>);

impl AdditionalClaims for ExtraClaims {}

/// ID token fields of a token response.
pub(crate) type TokenFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A token endpoint response.
pub(crate) type TokenResponse = StandardTokenResponse<TokenFields, CoreTokenType>;

/// A token endpoint error response.
pub(crate) type TokenError = StandardErrorResponse<CoreErrorResponseType>;

/// Verified ID token claims.
pub(crate) type IdClaims = openidconnect::IdTokenClaims<ExtraClaims, CoreGenderClaim>;

/// Userinfo claims.
pub(crate) type InfoClaims = UserInfoClaims<ExtraClaims, CoreGenderClaim>;

/// The ID token.
pub(crate) type IdToken = openidconnect::IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The client as built from discovery: authorization endpoint set, token and userinfo
/// endpoints as the IdP advertises them.
pub(crate) type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    TokenError,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Every claim of `claims` as one JSON object (standard and extra alike).
pub(crate) fn claim_map(claims: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}
