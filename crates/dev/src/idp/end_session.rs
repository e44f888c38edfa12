//! `GET|POST /end_session` (OpenID Connect RP-Initiated Logout 1.0): back to a registered
//! `post_logout_redirect_uri` with `state`, or a signed-out page. The provider keeps no login
//! sessions, so there is nothing else to end.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::oauth::{self, Params};
use super::{DevClient, DevIdp, pages};

/// Why end-session refuses to redirect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum EndSessionError {
    #[error("the parameter {0} is repeated")]
    Repeated(String),
    #[error("id_token_hint is not an ID token this provider issued")]
    Hint,
    #[error("the client {0:?} is not registered with this provider")]
    UnknownClient(String),
    #[error("client_id and the audience of id_token_hint differ")]
    ClientMismatch,
    #[error("post_logout_redirect_uri needs id_token_hint or client_id to say whose it is")]
    NoClient,
    #[error("the post_logout_redirect_uri {0:?} is not registered for this client")]
    Unregistered(String),
}

/// Where to send the browser: (post_logout_redirect_uri, state).
type Destination = Option<(String, Option<String>)>;

#[derive(Debug, Deserialize)]
struct HintClaims {
    aud: Audience,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

pub(super) async fn get(State(idp): State<Arc<DevIdp>>, RawQuery(query): RawQuery) -> Response {
    end(&idp, &Params::parse(query.unwrap_or_default().as_bytes()))
}

pub(super) async fn post(State(idp): State<Arc<DevIdp>>, body: Bytes) -> Response {
    end(&idp, &Params::parse(&body))
}

fn end(idp: &DevIdp, params: &Params) -> Response {
    match destination(idp, params) {
        Ok(Some((uri, state))) => {
            let params: Vec<_> = state.iter().map(|s| ("state", s.as_str())).collect();
            oauth::redirect(StatusCode::FOUND, &uri, &params).unwrap_or_else(|| {
                pages::error(
                    "Cannot sign out",
                    "The registered URI is not an absolute URL.",
                )
            })
        }
        Ok(None) => pages::signed_out(),
        Err(error) => {
            tracing::info!(%error, "dev IdP: end-session refused");
            pages::error("Cannot sign out", &format!("{error}."))
        }
    }
}

/// Where end-session sends the browser, if anywhere.
pub(super) fn destination(idp: &DevIdp, params: &Params) -> Result<Destination, EndSessionError> {
    if let Some(name) = params.any_repeated() {
        return Err(EndSessionError::Repeated(name.to_owned()));
    }
    let hinted = match params.get("id_token_hint") {
        Some(hint) => Some(hint_client(idp, hint)?),
        None => None,
    };
    let named = match params.get("client_id") {
        Some(id) => Some(
            idp.client(id)
                .ok_or_else(|| EndSessionError::UnknownClient(id.to_owned()))?,
        ),
        None => None,
    };
    let client = match (hinted, named) {
        (Some(a), Some(b)) if a.id != b.id => return Err(EndSessionError::ClientMismatch),
        (a, b) => a.or(b),
    };
    let Some(uri) = params.get("post_logout_redirect_uri") else {
        return Ok(None);
    };
    let client = client.ok_or(EndSessionError::NoClient)?;
    if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
        return Err(EndSessionError::Unregistered(uri.to_owned()));
    }
    Ok(Some((
        uri.to_owned(),
        params.get("state").map(str::to_owned),
    )))
}

/// The registered client an `id_token_hint` (ours, possibly expired) was issued to.
fn hint_client<'a>(idp: &'a DevIdp, hint: &str) -> Result<&'a DevClient, EndSessionError> {
    let claims: HintClaims = idp
        .key
        .verify_ignoring_expiry(hint, &idp.issuer)
        .map_err(|_| EndSessionError::Hint)?;
    let audiences = match claims.aud {
        Audience::One(aud) => vec![aud],
        Audience::Many(auds) => auds,
    };
    audiences
        .iter()
        .find_map(|aud| idp.client(aud))
        .ok_or(EndSessionError::Hint)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use url::Url;

    use super::*;

    fn idp() -> DevIdp {
        let client = |id: &str| DevClient {
            id: id.into(),
            secret: "s".into(),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![format!("http://{id}/bye")],
        };
        DevIdp::new(
            Url::parse("http://idp").unwrap(),
            vec![client("a"), client("b")],
        )
    }

    fn dest(idp: &DevIdp, query: &str) -> Result<Destination, EndSessionError> {
        destination(idp, &Params::parse(query.as_bytes()))
    }

    #[test]
    fn a_hint_or_client_id_names_whose_uris_count() {
        let idp = idp();
        let hint = idp
            .key
            .sign(&json!({"iss": "http://idp", "aud": "a", "exp": 1}))
            .unwrap();
        let q = format!("id_token_hint={hint}&post_logout_redirect_uri=http://a/bye&state=s");
        assert_eq!(
            dest(&idp, &q),
            Ok(Some(("http://a/bye".into(), Some("s".into()))))
        );
        assert_eq!(
            dest(&idp, "client_id=b&post_logout_redirect_uri=http://b/bye"),
            Ok(Some(("http://b/bye".into(), None)))
        );
        assert_eq!(dest(&idp, ""), Ok(None));
        assert_eq!(dest(&idp, &format!("id_token_hint={hint}")), Ok(None));
    }

    #[test]
    fn unregistered_or_unattributed_uris_are_refused() {
        let idp = idp();
        let hint = idp
            .key
            .sign(&json!({"iss": "http://idp", "aud": "a"}))
            .unwrap();
        let q = format!("id_token_hint={hint}&post_logout_redirect_uri=http://b/bye");
        assert!(matches!(
            dest(&idp, &q),
            Err(EndSessionError::Unregistered(_))
        ));
        assert_eq!(
            dest(&idp, &format!("id_token_hint={hint}&client_id=b")),
            Err(EndSessionError::ClientMismatch)
        );
        assert_eq!(
            dest(&idp, "post_logout_redirect_uri=http://a/bye"),
            Err(EndSessionError::NoClient)
        );
        assert_eq!(
            dest(&idp, "client_id=zz"),
            Err(EndSessionError::UnknownClient("zz".into()))
        );
        let foreign = keys_of_another_provider();
        assert_eq!(
            dest(&idp, &format!("id_token_hint={foreign}")),
            Err(EndSessionError::Hint)
        );
    }

    fn keys_of_another_provider() -> String {
        let other = idp();
        other
            .key
            .sign(&json!({"iss": "http://idp", "aud": "a"}))
            .unwrap()
    }
}
