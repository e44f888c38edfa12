//! The OIDC exchanges: the authorization URL, the code exchange with ID-token verification
//! and userinfo (login), and the refresh-token grant (refresh).

use std::time::SystemTime;

use openidconnect::core::{CoreAuthenticationFlow, CoreErrorResponseType};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RefreshToken, RequestTokenError, Scope, SubjectIdentifier,
    TokenResponse as _,
};
use serde_json::{Map, Value};
use url::Url;

use super::types::{IdClaims, IdToken, InfoClaims, TokenError, TokenResponse, claim_map};
use super::{Discovered, Idp, IdpError, error_chain};

/// OAuth tokens from a token response. `Debug` prints none of them.
pub(crate) struct Tokens {
    pub(crate) access_token: String,
    pub(crate) refresh_token: Option<String>,
    pub(crate) token_type: String,
    pub(crate) expires_at: Option<SystemTime>,
}

/// What a login (or a refresh) learned about the user. `Debug` prints no token.
pub(crate) struct Login {
    /// The `sub` claim.
    pub(crate) subject: String,
    /// The raw ID token, when the response had one (a refresh may not).
    pub(crate) id_token: Option<String>,
    /// Every claim of the verified ID token (empty when there was none).
    pub(crate) id_claims: Map<String, Value>,
    /// Every userinfo claim, when the IdP has a userinfo endpoint.
    pub(crate) userinfo: Option<Map<String, Value>>,
    pub(crate) tokens: Tokens,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("subject", &self.subject)
            .field("id_claims", &self.id_claims)
            .field("userinfo", &self.userinfo)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

// === impl Idp ===

impl Idp {
    /// The IdP authorization URL: code flow with `state`, `nonce` and the PKCE S256 challenge
    /// of `pkce_verifier`.
    pub(crate) fn authorize_url(
        &self,
        discovered: &Discovered,
        state: String,
        nonce: String,
        pkce_verifier: &str,
    ) -> Url {
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.to_owned(),
        ));
        let (url, _, _) = discovered
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scopes(self.scopes().iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        url
    }

    /// Exchanges `code` (with its PKCE verifier), verifies the ID token against `nonce`, and
    /// reads userinfo.
    pub(crate) async fn login(
        &self,
        code: String,
        pkce_verifier: String,
        nonce: &str,
        now: SystemTime,
    ) -> Result<Login, IdpError> {
        let discovered = self.discovered().await?;
        let request = discovered
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| IdpError::Discovery(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier));
        let response = request
            .request_async(self.http())
            .await
            .map_err(token_error)?;
        let id_token = response.id_token().ok_or(IdpError::NoIdToken)?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = self
            .verify(&discovered, &response, id_token, &nonce)
            .await?;
        let subject = claims.subject().to_string();
        let userinfo = self.userinfo(&discovered, &response, &subject).await?;
        Ok(Login {
            subject,
            id_token: Some(id_token.to_string()),
            id_claims: claim_map(&claims),
            userinfo,
            tokens: tokens(&response, now),
        })
    }

    /// The refresh-token grant for the user `subject`: new tokens, and the claims of a new
    /// ID token (if the IdP sends one) and userinfo.
    pub(crate) async fn refresh(
        &self,
        refresh_token: &str,
        subject: &str,
        now: SystemTime,
    ) -> Result<Login, IdpError> {
        let discovered = self.discovered().await?;
        let refresh_token = RefreshToken::new(refresh_token.to_owned());
        let response = discovered
            .client
            .exchange_refresh_token(&refresh_token)
            .map_err(|e| IdpError::Discovery(e.to_string()))?
            .request_async(self.http())
            .await
            .map_err(token_error)?;
        let (id_token, id_claims) = match response.id_token() {
            Some(id_token) => {
                // A refreshed ID token carries no nonce of ours (or the original one).
                let any_nonce = |_: Option<&Nonce>| Ok(());
                let claims = self
                    .verify(&discovered, &response, id_token, any_nonce)
                    .await?;
                if claims.subject().as_str() != subject {
                    return Err(IdpError::IdToken(
                        "the refreshed ID token names another subject".into(),
                    ));
                }
                (Some(id_token.to_string()), claim_map(&claims))
            }
            None => (None, Map::new()),
        };
        let userinfo = self.userinfo(&discovered, &response, subject).await?;
        Ok(Login {
            subject: subject.to_owned(),
            id_token,
            id_claims,
            userinfo,
            tokens: tokens(&response, now),
        })
    }

    /// Verifies the ID token (issuer, audience, expiry, signature, nonce) and its `at_hash`.
    /// A signature by an unknown key triggers one rediscovery (the IdP rotated its keys).
    async fn verify<N>(
        &self,
        discovered: &Discovered,
        response: &TokenResponse,
        id_token: &IdToken,
        nonce: N,
    ) -> Result<IdClaims, IdpError>
    where
        N: openidconnect::NonceVerifier + Clone,
    {
        match verify_with(discovered, response, id_token, nonce.clone()) {
            Err(IdpError::IdToken(detail)) if detail.starts_with(SIGNATURE) => {
                let fresh = self.rediscover().await?;
                verify_with(&fresh, response, id_token, nonce)
            }
            other => other,
        }
    }

    async fn userinfo(
        &self,
        discovered: &Discovered,
        response: &TokenResponse,
        subject: &str,
    ) -> Result<Option<Map<String, Value>>, IdpError> {
        let Ok(request) = discovered.client.user_info(
            AccessToken::new(response.access_token().secret().clone()),
            Some(SubjectIdentifier::new(subject.to_owned())),
        ) else {
            return Ok(None); // no userinfo endpoint
        };
        let claims: InfoClaims = request
            .request_async(self.http())
            .await
            .map_err(|e| IdpError::UserInfo(error_chain(&e)))?;
        Ok(Some(claim_map(&claims)))
    }
}

const SIGNATURE: &str = "signature: ";

fn verify_with<N: openidconnect::NonceVerifier>(
    discovered: &Discovered,
    response: &TokenResponse,
    id_token: &IdToken,
    nonce: N,
) -> Result<IdClaims, IdpError> {
    let verifier = discovered.client.id_token_verifier();
    let claims = id_token.claims(&verifier, nonce).map_err(|e| match e {
        openidconnect::ClaimsVerificationError::SignatureVerification(e) => {
            IdpError::IdToken(format!("{SIGNATURE}{}", error_chain(&e)))
        }
        e => IdpError::IdToken(error_chain(&e)),
    })?;
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(|e| IdpError::IdToken(error_chain(&e)))?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|e| IdpError::IdToken(error_chain(&e)))?;
        let actual = AccessTokenHash::from_token(response.access_token(), alg, key)
            .map_err(|e| IdpError::IdToken(error_chain(&e)))?;
        if actual != *expected {
            return Err(IdpError::IdToken(
                "at_hash does not match the access token".into(),
            ));
        }
    }
    Ok(claims.clone())
}

fn tokens(response: &TokenResponse, now: SystemTime) -> Tokens {
    Tokens {
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        token_type: serde_json::to_value(response.token_type())
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "Bearer".to_owned()),
        expires_at: response.expires_in().map(|d| now + d),
    }
}

fn token_error<RE: std::error::Error + 'static>(
    error: RequestTokenError<RE, TokenError>,
) -> IdpError {
    match error {
        RequestTokenError::ServerResponse(response) => IdpError::Refused {
            code: match response.error() {
                CoreErrorResponseType::Extension(code) => code.clone(),
                other => serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "unknown".to_owned()),
            },
        },
        other => IdpError::Unreachable(error_chain(&other)),
    }
}
