//! The header changes of an allowed request (design §5).
//!
//! - set `X-Portcullis-Jwt-Assertion` (signed-in requests), the `jwt_claims_headers`, and with
//!   `pass_identity_headers` the `X-Portcullis-Claim-{Email,User,Groups,Name}` headers —
//!   overwriting whatever the client sent under those names;
//! - remove credentials (`X-Portcullis-Authorization`, a Portcullis bearer in `Authorization`,
//!   the session cookie) and every other client-sent `X-Portcullis-*` or claim header, so no
//!   identity header reaches the upstream unless authorize set it.

use std::sync::Arc;

use portcullis_proto::{Allow, AuthorizeRequest};
use serde_json::Value;

use crate::credential::{cookies_without, is_portcullis_bearer};
use crate::routes::RouteEntry;
use crate::sessions::Identity;

/// The identity JWT header (lower-case, as sent upstream).
pub const JWT_ASSERTION_HEADER: &str = "x-portcullis-jwt-assertion";
const IDENTITY_PREFIX: &str = "x-portcullis-";

/// Header settings from the configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderRules {
    pub(crate) cookie_name: String,
    /// `jwt_claims_headers`: lower-case header → claim.
    pub(crate) claims_headers: Vec<(String, String)>,
}

/// A signed-in identity and its token, for the headers.
pub(crate) struct Signed<'a> {
    pub(crate) identity: &'a Identity,
    pub(crate) jwt: Arc<str>,
}

/// The header changes for an allowed `request`.
pub(crate) fn allow(
    rules: &HeaderRules,
    request: &AuthorizeRequest,
    route: &RouteEntry,
    signed: Option<&Signed<'_>>,
) -> Allow {
    let mut set: Vec<(String, String)> = Vec::with_capacity(2);
    if let Some(Signed { identity, jwt }) = signed {
        set.push((JWT_ASSERTION_HEADER.to_owned(), jwt.to_string()));
        for (header, claim) in &rules.claims_headers {
            if let Some(value) = claim_value(identity, claim, &route.audience) {
                set.push((header.clone(), value));
            }
        }
        if route.route.pass_identity_headers {
            let jwt = &identity.jwt;
            let mut pass = |name: &str, value: &str| {
                if !value.is_empty() && !set.iter().any(|(k, _)| k == name) {
                    set.push((name.to_owned(), header_safe(value)));
                }
            };
            pass("x-portcullis-claim-email", &jwt.email);
            pass("x-portcullis-claim-user", &jwt.user_id);
            pass("x-portcullis-claim-groups", &jwt.groups.join(","));
            pass("x-portcullis-claim-name", &jwt.name);
        }
    }
    let mut remove: Vec<String> = Vec::new();
    match cookies_without(request, &rules.cookie_name) {
        Some(rest) if rest.is_empty() => remove.push("cookie".to_owned()),
        Some(rest) => set.push(("cookie".to_owned(), rest)),
        None => {}
    }
    for (name, value) in &request.headers {
        let strip = (name.starts_with(IDENTITY_PREFIX)
            || rules.claims_headers.iter().any(|(h, _)| h == name)
            || (name == "authorization" && is_portcullis_bearer(value)))
            && !set.iter().any(|(k, _)| k == name);
        if strip && !remove.contains(name) {
            remove.push(name.clone());
        }
    }
    if signed.is_none() && !remove.iter().any(|k| k == JWT_ASSERTION_HEADER) {
        remove.push(JWT_ASSERTION_HEADER.to_owned());
    }
    Allow {
        set_headers: set,
        remove_headers: remove,
        user: signed.map_or_else(String::new, |s| s.identity.jwt.user_id.clone()),
    }
}

/// A claim as a header value: the JWT's own claims by name, else the IdP claim (lists joined
/// with `,`). `None` when the identity has no such claim.
fn claim_value(identity: &Identity, claim: &str, audience: &str) -> Option<String> {
    let jwt = &identity.jwt;
    let value = match claim {
        "email" => identity.email.clone()?,
        "user" | "sub" => jwt.user_id.clone(),
        "groups" => jwt.groups.join(","),
        "name" if !jwt.name.is_empty() => jwt.name.clone(),
        "sid" => identity.session_id.clone(),
        "iss" | "aud" => audience.to_owned(),
        other => match identity.claims.get(other)? {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            Value::Null => return None,
            v => v.to_string(),
        },
    };
    Some(header_safe(&value))
}

/// Drops control characters, which no header value may hold.
fn header_safe(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}
