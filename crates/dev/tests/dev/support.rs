//! Start a provider on a free port; discover it; log in through its form like a browser.

use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl,
    RequestTokenError, Scope, StandardErrorResponse, StandardTokenResponse,
};
use portcullis_dev::{DevClient, DevIdp};
use serde::{Deserialize, Serialize};
use url::Url;

pub(crate) const CLIENT_ID: &str = "portcullis";
pub(crate) const SECRET: &str = "dev-client-secret";
pub(crate) const CALLBACK: &str = "http://authenticate.localhost/oauth2/callback";
pub(crate) const SIGNED_OUT: &str = "http://authenticate.localhost/signed-out";

/// The `groups` claim (openidconnect keeps non-standard claims here).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Groups {
    #[serde(default)]
    pub(crate) groups: Vec<String>,
}

impl AdditionalClaims for Groups {}

pub(crate) type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        Groups,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

pub(crate) type TokenError = StandardErrorResponse<CoreErrorResponseType>;

pub(crate) type IdToken = openidconnect::IdToken<
    Groups,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The client as discovery builds it.
pub(crate) type OidcClient = Client<
    Groups,
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

/// A running provider.
pub(crate) struct Idp {
    /// The issuer as the provider states it.
    pub(crate) issuer: String,
    /// An HTTP client that follows no redirects.
    pub(crate) http: reqwest::Client,
}

/// What the login form sent back to the callback, and what the client must remember.
pub(crate) struct Login {
    pub(crate) code: String,
    pub(crate) verifier: PkceCodeVerifier,
    pub(crate) nonce: Nonce,
}

/// A provider with the access-token lifetime `ttl`, on 127.0.0.1:0, registering the
/// client `CLIENT_ID`.
pub(crate) async fn start_idp(ttl: Duration) -> Idp {
    start_idp_at("/", ttl).await
}

/// As [`start_idp`], with an issuer URL whose path is `path`.
pub(crate) async fn start_idp_at(path: &str, ttl: Duration) -> Idp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let issuer = Url::parse(&format!("http://127.0.0.1:{port}{path}")).unwrap();
    let client = DevClient {
        id: CLIENT_ID.into(),
        secret: SECRET.into(),
        redirect_uris: vec![CALLBACK.into()],
        post_logout_redirect_uris: vec![SIGNED_OUT.into()],
    };
    let idp = Arc::new(DevIdp::new(issuer, vec![client]).with_access_token_ttl(ttl));
    let issuer = idp.issuer().to_owned();
    let router = idp.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Idp {
        issuer,
        http: http(),
    }
}

/// An HTTP client that never follows redirects (the tests follow them by hand).
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl Idp {
    /// Discovery, and a client with `secret` built from it.
    pub(crate) async fn client(&self, secret: &str) -> (OidcClient, ProviderMetadataWithLogout) {
        let issuer = IssuerUrl::new(self.issuer.clone()).unwrap();
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .unwrap();
        let client = OidcClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(CLIENT_ID.into()),
            Some(ClientSecret::new(secret.into())),
        )
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
        (client, metadata)
    }

    /// Asks `client` for an authorization URL, fetches the login form, posts `email` and
    /// `groups`, and returns the code from the redirect to the callback.
    pub(crate) async fn login(
        &self,
        client: &OidcClient,
        scopes: &[&str],
        email: &str,
        groups: &str,
    ) -> Login {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(scopes.iter().map(|s| Scope::new(s.to_string())))
            .set_pkce_challenge(challenge)
            .url();
        let form = self.http.get(url.clone()).send().await.unwrap();
        assert_eq!(form.status(), 200);
        let html = form.text().await.unwrap();
        assert!(html.contains("Development identity"), "{html}");
        let request_id = attribute_after(&html, "name=\"request_id\" value=\"");
        let action = attribute_after(&html, "<form method=\"post\" action=\"");
        let response = self
            .http
            .post(url.join(&action).unwrap())
            .form(&[
                ("request_id", request_id.as_str()),
                ("email", email),
                ("groups", groups),
                ("action", "sign_in"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
        let back = location(&response);
        assert!(back.as_str().starts_with(CALLBACK), "{back}");
        assert_eq!(
            query(&back, "state").as_deref(),
            Some(csrf.secret().as_str())
        );
        Login {
            code: query(&back, "code").expect("a code"),
            verifier,
            nonce,
        }
    }
}

/// Exchanges a login's code with `client`.
pub(crate) async fn exchange(
    client: &OidcClient,
    http: &reqwest::Client,
    code: &str,
    verifier: PkceCodeVerifier,
) -> Result<TokenResponse, TokenError> {
    let request = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .unwrap()
        .set_pkce_verifier(verifier);
    match request.request_async(http).await {
        Ok(response) => Ok(response),
        Err(RequestTokenError::ServerResponse(error)) => Err(error),
        Err(other) => panic!("the token request failed: {other:?}"),
    }
}

/// The `Location` of a redirect.
pub(crate) fn location(response: &reqwest::Response) -> Url {
    let value = response
        .headers()
        .get("location")
        .expect("a Location header");
    Url::parse(value.to_str().unwrap()).unwrap()
}

/// The value of query parameter `name`.
pub(crate) fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The (HTML-escaped) attribute value that follows `marker`.
pub(crate) fn attribute_after(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].replace("&amp;", "&")
}

/// The body of `response` as JSON (reqwest's `json` feature stays off).
pub(crate) async fn json(response: reqwest::Response) -> serde_json::Value {
    let bytes = response.bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"))
}
