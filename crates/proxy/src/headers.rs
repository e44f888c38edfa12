//! Header rules of the forwarding step.
//!
//! Upstream requests: hop-by-hop headers go (RFC 9110 §7.6.1, plus every name `Connection`
//! lists), except the `Upgrade` pair of an allowed upgrade; the client's credentials and
//! identity claims go **always**, whatever authorize said — every `X-Portcullis-*` header,
//! the session cookie (other cookies stay), `Authorization: Bearer Portcullis-…`, and the
//! `jwt_claims_headers` names — and so do its forwarding claims (every `X-Forwarded-*`,
//! `Forwarded`, `X-Real-Ip`, `X-Original-Url`/`-Uri`, `X-Rewrite-Url`); then authorize's
//! [`Allow`] changes, the route's `remove_request_headers` / `set_request_headers`, `Host`,
//! `X-Forwarded-For` (the client's address alone), `X-Forwarded-Proto`, `X-Forwarded-Host`
//! and our `X-Request-Id`.
//!
//! Responses: hop-by-hop headers go, then global and route `set_response_headers` (the
//! route wins for the same name).

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use portcullis_proto::Allow;

/// Prefix of the headers only portcullis may set.
const IDENTITY_PREFIX: &str = "x-portcullis-";
/// The prefix of a Portcullis bearer token in `Authorization`.
const BEARER_PREFIX: &str = "Bearer Portcullis-";
/// `X-Request-Id`.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Forwarding claims only portcullis may make: it is the edge, so no client's word about
/// earlier hops is believed. With every `X-Forwarded-*` name they are stripped from requests;
/// `X-Forwarded-For`, `-Proto` and `-Host` are then set afresh (SECURITY.md).
const CLIENT_FORWARDING: [&str; 5] = [
    "forwarded",
    "x-real-ip",
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
];
const FORWARDED_PREFIX: &str = "x-forwarded-";

/// Hop-by-hop headers (beyond those named in `Connection`).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// What identifies a client to portcullis, and so must never reach an upstream.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    /// `cookie_name`.
    pub(crate) cookie_name: String,
    /// `jwt_claims_headers` names.
    pub(crate) claim_headers: Vec<HeaderName>,
}

/// Where the request came from, for the `X-Forwarded-*` headers.
#[derive(Debug)]
pub(crate) struct Forwarded<'a> {
    pub(crate) client: IpAddr,
    /// `https` or `http`: the scheme the client used (the route's public scheme).
    pub(crate) proto: &'a str,
    /// The `Host` the client asked for.
    pub(crate) host: &'a str,
}

// === impl Credentials ===

impl Credentials {
    /// Removes every credential, identity and forwarding header the client sent.
    pub(crate) fn strip(&self, headers: &mut HeaderMap) {
        let identity: Vec<HeaderName> = headers
            .keys()
            .filter(|name| {
                let name_str = name.as_str();
                name_str.starts_with(IDENTITY_PREFIX)
                    || name_str.starts_with(FORWARDED_PREFIX)
                    || CLIENT_FORWARDING.contains(&name_str)
                    || self.claim_headers.contains(name)
            })
            .cloned()
            .collect();
        for name in identity {
            headers.remove(name);
        }
        retain_values(headers, &header::AUTHORIZATION, |v| {
            !v.trim_start().starts_with(BEARER_PREFIX)
        });
        self.strip_cookie(headers);
    }

    /// Cuts the session cookie out of every `Cookie` header, keeping the other cookies.
    fn strip_cookie(&self, headers: &mut HeaderMap) {
        if !headers.contains_key(header::COOKIE) {
            return;
        }
        let mut rest: Vec<&str> = Vec::new();
        let values: Vec<HeaderValue> = headers.get_all(header::COOKIE).iter().cloned().collect();
        let mut found = false;
        for value in &values {
            // A cookie header that is not text cannot be checked: drop it.
            let Ok(text) = value.to_str() else {
                found = true;
                continue;
            };
            for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                let name = pair.split_once('=').map_or(pair, |(n, _)| n).trim();
                if name == self.cookie_name {
                    found = true;
                } else {
                    rest.push(pair);
                }
            }
        }
        if !found {
            return;
        }
        let joined = rest.join("; ");
        headers.remove(header::COOKIE);
        if !joined.is_empty()
            && let Ok(value) = HeaderValue::from_str(&joined)
        {
            headers.insert(header::COOKIE, value);
        }
    }
}

/// Keeps only the values of `name` for which `keep` holds (non-text values are dropped).
fn retain_values(headers: &mut HeaderMap, name: &HeaderName, keep: impl Fn(&str) -> bool) {
    let values: Vec<HeaderValue> = headers.get_all(name).iter().cloned().collect();
    if values.iter().all(|v| v.to_str().is_ok_and(&keep)) {
        return;
    }
    headers.remove(name);
    for value in values {
        if value.to_str().is_ok_and(&keep) {
            headers.append(name.clone(), value);
        }
    }
}

/// True when the request asks for a protocol upgrade (`Connection: upgrade` + `Upgrade`).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Removes hop-by-hop headers; with `keep_upgrade`, keeps `Upgrade` and sets
/// `Connection: upgrade`.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    let upgrade = keep_upgrade
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten();
    // `TE: trailers` is the one TE value that may pass (gRPC clients send it).
    let trailers = headers
        .get(header::TE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"));
    for name in listed.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
    if trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some(upgrade) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, upgrade);
    }
}

/// Applies authorize's header changes. `cookie` is left alone: the session cookie was cut
/// out already and the other cookies stay.
pub(crate) fn apply_allow(headers: &mut HeaderMap, allow: &Allow) {
    for name in &allow.remove_headers {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes())
            && name != header::COOKIE
        {
            headers.remove(name);
        }
    }
    for (name, value) in &allow.set_headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) if name != header::COOKIE => {
                headers.insert(name, value);
            }
            (Ok(_), Ok(_)) => {}
            _ => tracing::warn!(header = %name, "authorize set a header that is not valid HTTP"),
        }
    }
}

/// Sets `X-Forwarded-For` (the client's address alone: what earlier hops a client claims is
/// not believed), `-Proto`, `-Host`.
pub(crate) fn set_forwarded(headers: &mut HeaderMap, forwarded: &Forwarded<'_>) {
    if let Ok(value) = HeaderValue::from_str(&forwarded.client.to_string()) {
        headers.insert(X_FORWARDED_FOR, value);
    }
    if let Ok(value) = HeaderValue::from_str(forwarded.proto) {
        headers.insert(X_FORWARDED_PROTO, value);
    }
    if let Ok(value) = HeaderValue::from_str(forwarded.host) {
        headers.insert(X_FORWARDED_HOST, value);
    }
}

/// Sets each pair, replacing earlier values.
pub(crate) fn set_all(headers: &mut HeaderMap, pairs: &[(HeaderName, HeaderValue)]) {
    for (name, value) in pairs {
        headers.insert(name.clone(), value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        headers
    }

    fn names(h: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    fn credentials() -> Credentials {
        Credentials {
            cookie_name: "_portcullis".into(),
            claim_headers: vec![HeaderName::from_static("x-email")],
        }
    }

    #[test]
    fn credentials_and_identity_headers_never_pass() {
        let mut h = map(&[
            ("x-portcullis-jwt-assertion", "forged"),
            ("X-Portcullis-Claim-Email", "boss@example.com"),
            ("x-portcullis-authorization", "Portcullis-abc"),
            ("x-email", "boss@example.com"),
            ("authorization", "Bearer Portcullis-token"),
            ("cookie", "a=1; _portcullis=secret; b=2"),
            ("cookie", "_portcullis=again"),
            ("x-other", "kept"),
            ("x-forwarded-for", "10.9.9.9"),
            ("X-Forwarded-Prefix", "/admin"),
            ("forwarded", "for=10.9.9.9"),
            ("x-real-ip", "10.9.9.9"),
            ("x-original-url", "/admin"),
            ("x-rewrite-url", "/admin"),
        ]);
        credentials().strip(&mut h);
        assert_eq!(names(&h), ["cookie", "x-other"]);
        assert_eq!(h["cookie"], "a=1; b=2");
    }

    #[test]
    fn other_authorization_and_lone_session_cookie() {
        let mut h = map(&[
            ("authorization", "Basic dXNlcjpwdw=="),
            ("cookie", "_portcullis=secret"),
        ]);
        credentials().strip(&mut h);
        assert_eq!(h["authorization"], "Basic dXNlcjpwdw==");
        assert!(!h.contains_key("cookie"));
        let mut h = map(&[("cookie", "_portcullis_other=1")]);
        credentials().strip(&mut h);
        assert_eq!(
            h["cookie"], "_portcullis_other=1",
            "a longer name is another cookie"
        );
    }

    #[test]
    fn hop_by_hop_headers_go_upgrades_stay_when_allowed() {
        let headers = || {
            map(&[
                ("connection", "keep-alive, Upgrade, x-secret"),
                ("upgrade", "websocket"),
                ("keep-alive", "timeout=5"),
                ("x-secret", "1"),
                ("transfer-encoding", "chunked"),
                ("te", "trailers"),
                ("sec-websocket-key", "k"),
            ])
        };
        let mut h = headers();
        assert!(is_upgrade(&h));
        remove_hop_by_hop(&mut h, false);
        assert_eq!(names(&h), ["sec-websocket-key", "te"]);
        let mut h = headers();
        remove_hop_by_hop(&mut h, true);
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["upgrade"], "websocket");
        assert!(!h.contains_key("x-secret"));
    }

    #[test]
    fn allow_changes_and_forwarded_headers() {
        let mut h = map(&[("x-forwarded-for", "198.51.100.1"), ("x-drop", "1")]);
        apply_allow(
            &mut h,
            &Allow {
                set_headers: vec![
                    ("x-portcullis-jwt-assertion".into(), "jwt".into()),
                    ("cookie".into(), "ignored".into()),
                    ("bad header".into(), "x".into()),
                ],
                remove_headers: vec!["x-drop".into()],
                user: String::new(),
            },
        );
        set_forwarded(
            &mut h,
            &Forwarded {
                client: "203.0.113.7".parse().unwrap(),
                proto: "https",
                host: "app.example.com",
            },
        );
        assert_eq!(h["x-portcullis-jwt-assertion"], "jwt");
        assert!(!h.contains_key("x-drop") && !h.contains_key("cookie"));
        assert_eq!(
            h["x-forwarded-for"], "203.0.113.7",
            "a client's claim is replaced"
        );
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "app.example.com");
    }
}
