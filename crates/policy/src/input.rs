//! What a policy is evaluated against: borrowed views of the request, the user and the time.
//!
//! Everything is borrowed so that building an [`Input`] per request costs nothing; the caller
//! passes the time explicitly so evaluation never reads a clock.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// One authorization question: may this user make this request now?
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The signed-in user, or `None` when there is no valid session.
    pub user: Option<User<'a>>,
    /// The request being authorized.
    pub request: Request<'a>,
    /// The time to evaluate `date`, `day_of_week` and `time_of_day` at.
    pub now: SystemTime,
}

/// A signed-in user.
#[derive(Debug, Clone, Copy, Default)]
pub struct User<'a> {
    /// The user id (the IdP's `sub`), matched by `user`.
    pub id: &'a str,
    /// The email address, matched by `email` and `domain` (ASCII case-insensitively).
    pub email: Option<&'a str>,
    /// Group ids or names, matched by `groups`.
    pub groups: &'a [String],
    /// The identity token's claims, matched by `claim/<path>`.
    pub claims: Option<&'a Map<String, Value>>,
}

/// The parts of an HTTP request that criteria look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// The method, e.g. `GET`, matched by `http_method` (case-sensitively).
    pub method: &'a str,
    /// The path without the query, matched by `http_path`.
    pub path: &'a str,
    /// The client's address, matched by `source_ip`. `None` when unknown.
    pub source_ip: Option<IpAddr>,
    /// The `Origin` header, if present (for `cors_preflight`).
    pub origin: Option<&'a str>,
    /// The `Access-Control-Request-Method` header, if present (for `cors_preflight`).
    pub access_control_request_method: Option<&'a str>,
    /// The verified client certificate, if the client presented one.
    pub client_certificate: Option<ClientCertificate<'a>>,
}

/// A client certificate as the TLS layer saw it, pre-digested by the caller.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientCertificate<'a> {
    /// SHA-256 of the DER-encoded certificate.
    pub fingerprint_sha256: [u8; 32],
    /// SHA-256 of the DER-encoded SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// DNS-name Subject Alternative Names.
    pub san_dns: &'a [String],
    /// Email (rfc822Name) Subject Alternative Names.
    pub san_email: &'a [String],
    /// URI Subject Alternative Names.
    pub san_uri: &'a [String],
}

// === impl Input ===

impl<'a> Input<'a> {
    /// An anonymous request at `now`; set [`Input::user`] for a signed-in one.
    pub fn new(request: Request<'a>, now: SystemTime) -> Input<'a> {
        Input {
            user: None,
            request,
            now,
        }
    }

    /// Seconds since the Unix epoch (floored; negative before it) and the nanoseconds past
    /// that second. Saturates beyond `i64` seconds.
    pub(crate) fn unix_time(&self) -> (i64, u32) {
        match self.now.duration_since(UNIX_EPOCH) {
            Ok(after) => (
                i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                after.subsec_nanos(),
            ),
            Err(before) => {
                let d = before.duration();
                let secs = i64::try_from(d.as_secs()).map_or(i64::MIN, |s| -s);
                match d.subsec_nanos() {
                    0 => (secs, 0),
                    n => (secs.saturating_sub(1), 1_000_000_000 - n),
                }
            }
        }
    }

    /// Nanoseconds since the Unix epoch (negative before it).
    pub(crate) fn unix_nanos(&self) -> i128 {
        let (secs, nanos) = self.unix_time();
        i128::from(secs) * 1_000_000_000 + i128::from(nanos)
    }
}

// === impl Request ===

impl Request<'_> {
    /// An `OPTIONS` request carrying both `Origin` and `Access-Control-Request-Method`.
    pub fn is_cors_preflight(&self) -> bool {
        self.method.eq_ignore_ascii_case("OPTIONS")
            && self.origin.is_some()
            && self.access_control_request_method.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn unix_nanos_handles_both_sides_of_the_epoch() {
        let at = |t| Input::new(Request::default(), t).unix_nanos();
        assert_eq!(at(UNIX_EPOCH + Duration::new(2, 5)), 2_000_000_005);
        assert_eq!(at(UNIX_EPOCH - Duration::from_secs(1)), -1_000_000_000);
        assert_eq!(at(UNIX_EPOCH - Duration::new(1, 250)), -1_000_000_250);
        let split = |t| Input::new(Request::default(), t).unix_time();
        assert_eq!(split(UNIX_EPOCH - Duration::new(1, 250)), (-2, 999_999_750));
        assert_eq!(split(UNIX_EPOCH + Duration::new(7, 3)), (7, 3));
    }

    #[test]
    fn cors_preflight_needs_method_and_both_headers() {
        let mut request = Request {
            method: "OPTIONS",
            origin: Some("https://a.example"),
            access_control_request_method: Some("PUT"),
            ..Request::default()
        };
        assert!(request.is_cors_preflight());
        request.origin = None;
        assert!(!request.is_cors_preflight());
        request.origin = Some("x");
        request.method = "GET";
        assert!(!request.is_cors_preflight());
    }
}
