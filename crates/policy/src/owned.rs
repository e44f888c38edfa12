//! An owned evaluation input that reads from JSON or YAML: what `portcullis policy test`
//! takes with `--input`, and what the fixture tests are written in.
//!
//! ```json
//! {
//!   "user": {"id": "u1", "email": "a@example.com", "groups": ["eng"], "claims": {"level": 3}},
//!   "request": {"method": "GET", "path": "/admin", "ip": "10.0.0.1",
//!               "headers": {"Origin": "https://app.example"},
//!               "client_certificate": {"fingerprint": "17:85:...", "san_dns": ["svc"]}},
//!   "time": "2024-05-01T09:00:00Z"
//! }
//! ```
//! Every field is optional; `user` absent means anonymous.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, de};
use serde_json::{Map, Value};

use crate::criteria::{parse_fingerprint, parse_instant, parse_spki_hash};
use crate::input::{ClientCertificate, Input, Request, User};

/// A whole evaluation input, owned.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnedInput {
    /// The signed-in user; absent for an anonymous request.
    #[serde(default)]
    pub user: Option<OwnedUser>,
    /// The request.
    #[serde(default)]
    pub request: OwnedRequest,
    /// When to evaluate at (RFC 3339); the caller's `now` when absent.
    #[serde(default, deserialize_with = "time")]
    pub time: Option<SystemTime>,
}

/// A signed-in user, owned.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OwnedUser {
    /// The user id.
    pub id: String,
    /// The email address.
    pub email: Option<String>,
    /// Groups.
    pub groups: Vec<String>,
    /// Identity token claims.
    pub claims: Map<String, Value>,
}

/// A request, owned. Defaults to `GET /`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OwnedRequest {
    /// The method.
    pub method: String,
    /// The path (a query string, if any, is ignored).
    pub path: String,
    /// The client address.
    pub ip: Option<IpAddr>,
    /// Request headers; names are matched case-insensitively.
    pub headers: BTreeMap<String, String>,
    /// The client certificate, if one was presented.
    pub client_certificate: Option<OwnedCertificate>,
}

/// A client certificate, owned: hashes as written in policies, decoded on reading.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OwnedCertificate {
    /// SHA-256 fingerprint (hex, with or without colons).
    #[serde(deserialize_with = "fingerprint")]
    pub fingerprint: [u8; 32],
    /// SHA-256 of the SubjectPublicKeyInfo (base64).
    #[serde(deserialize_with = "spki_hash")]
    pub spki_hash: [u8; 32],
    /// DNS SANs.
    pub san_dns: Vec<String>,
    /// Email SANs.
    pub san_email: Vec<String>,
    /// URI SANs.
    pub san_uri: Vec<String>,
}

/// A time that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a time (expected RFC 3339, e.g. 2024-05-01T09:00:00Z)")]
pub struct TimeError(pub String);

/// An `OwnedInput` document that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// The text is not JSON (or YAML).
    #[error(transparent)]
    Syntax(#[from] portcullis_yaml::YamlError),
    /// A field is unknown or has the wrong shape; the message says where.
    #[error("{}{}", .0.origin.as_ref().map(|o| format!("{o}: ")).unwrap_or_default(), .0.message)]
    Field(portcullis_yaml::DeError),
}

/// Reads a time as policies write them: RFC 3339, or a date(-time) without offset as UTC.
pub fn parse_time(text: &str) -> Result<SystemTime, TimeError> {
    parse_instant(text)
        .map(SystemTime::from)
        .ok_or_else(|| TimeError(text.to_owned()))
}

// === impl OwnedInput ===

impl OwnedInput {
    /// Reads an input from JSON (or YAML) text.
    pub fn from_json(text: &str) -> Result<OwnedInput, InputError> {
        let node = portcullis_yaml::Node::parse(text)?;
        if node.is_null() {
            return Ok(OwnedInput::default());
        }
        portcullis_yaml::from_node(&node).map_err(InputError::Field)
    }

    /// The borrowed input, evaluated at [`OwnedInput::time`] or else `now`.
    pub fn input(&self, now: SystemTime) -> Input<'_> {
        let r = &self.request;
        Input {
            user: self.user.as_ref().map(|u| User {
                id: &u.id,
                email: u.email.as_deref(),
                groups: &u.groups,
                claims: Some(&u.claims),
            }),
            request: Request {
                method: &r.method,
                path: r.path.split(['?', '#']).next().unwrap_or_default(),
                source_ip: r.ip,
                origin: r.header("origin"),
                access_control_request_method: r.header("access-control-request-method"),
                client_certificate: r.client_certificate.as_ref().map(|c| ClientCertificate {
                    fingerprint_sha256: c.fingerprint,
                    spki_sha256: c.spki_hash,
                    san_dns: &c.san_dns,
                    san_email: &c.san_email,
                    san_uri: &c.san_uri,
                }),
            },
            now: self.time.unwrap_or(now),
        }
    }
}

// === impl OwnedRequest ===

impl OwnedRequest {
    /// The value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Default for OwnedRequest {
    fn default() -> Self {
        OwnedRequest {
            method: "GET".into(),
            path: "/".into(),
            ip: None,
            headers: BTreeMap::new(),
            client_certificate: None,
        }
    }
}

fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
    let text = String::deserialize(d)?;
    parse_time(&text).map(Some).map_err(de::Error::custom)
}

fn fingerprint<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
    let text = String::deserialize(d)?;
    parse_fingerprint(&text)
        .ok_or_else(|| de::Error::custom(format!("\"{text}\" is not a SHA-256 fingerprint")))
}

fn spki_hash<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
    let text = String::deserialize(d)?;
    parse_spki_hash(&text)
        .ok_or_else(|| de::Error::custom(format!("\"{text}\" is not a base64 SHA-256 hash")))
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn reads_every_field_from_json() {
        let owned = OwnedInput::from_json(
            r#"{
              "user": {"id": "u1", "email": "a@example.com", "groups": ["eng"],
                       "claims": {"level": 3, "tags": ["x"]}},
              "request": {"method": "OPTIONS", "path": "/api?x=1", "ip": "10.0.0.1",
                          "headers": {"origin": "https://app", "Access-Control-Request-Method": "PUT"},
                          "client_certificate": {"fingerprint": "ab", "san_dns": ["svc"]}},
              "time": "2024-01-01T00:00:00Z"
            }"#,
        );
        let err = owned.unwrap_err().to_string();
        assert!(err.contains("\"ab\" is not a SHA-256 fingerprint"), "{err}");
        let text = r#"{
          "user": {"id": "u1", "email": "a@example.com", "groups": ["eng"], "claims": {"level": 3}},
          "request": {"method": "OPTIONS", "path": "/api?x=1", "ip": "10.0.0.1",
                      "headers": {"origin": "https://app", "Access-Control-Request-Method": "PUT"},
                      "client_certificate": {"spki_hash": "FsDbM0rUYIiL3V339eIKqiz6HPSB+Pz2WeAWhqlqh8U=", "san_dns": ["svc"]}},
          "time": "2024-01-01T00:00:00Z"
        }"#;
        let owned = OwnedInput::from_json(text).unwrap();
        let input = owned.input(UNIX_EPOCH);
        let user = input.user.unwrap();
        assert_eq!((user.id, user.email), ("u1", Some("a@example.com")));
        assert_eq!(user.claims.unwrap()["level"], 3);
        assert_eq!(input.request.path, "/api");
        assert!(input.request.is_cors_preflight());
        assert_eq!(input.request.source_ip, Some("10.0.0.1".parse().unwrap()));
        let cert = input.request.client_certificate.unwrap();
        assert_eq!(cert.spki_sha256[0], 0x16);
        assert_eq!(cert.san_dns, ["svc"]);
        assert_eq!(input.now, parse_time("2024-01-01T00:00:00Z").unwrap());
    }

    #[test]
    fn defaults_and_errors() {
        let input = OwnedInput::from_json("").unwrap();
        let borrowed = input.input(UNIX_EPOCH);
        assert!(borrowed.user.is_none());
        assert_eq!(
            (borrowed.request.method, borrowed.request.path),
            ("GET", "/")
        );
        assert_eq!(borrowed.now, UNIX_EPOCH);
        let err = OwnedInput::from_json(r#"{"usr": {}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("usr"), "{err}");
        let err = OwnedInput::from_json(r#"{"time": "noon"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"noon\" is not a time"), "{err}");
        let err = OwnedInput::from_json(r#"{"request": {"ip": "10.0.0.300"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
