//! Record messages ↔ domain records, in one place.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message as _;
use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Timestamp, Value as PbValue};
use serde_json::{Map, Number, Value};

use crate::records::{OAuthToken, RecordDecodeError, SecretString, Session, User};
use crate::session::v1 as session_pb;
use crate::user::v1 as user_pb;

// === impl Session ===

impl Session {
    /// The record data: the encoded `portcullis.session.v1.Session` (type URL
    /// [`Session::TYPE_URL`]).
    pub fn encode(&self) -> Vec<u8> {
        session_pb::Session {
            id: self.id.clone(),
            user_id: self.user_id.clone(),
            issued_at: Some(timestamp(self.issued_at)),
            expires_at: Some(timestamp(self.expires_at)),
            refreshed_at: self.refreshed_at.map(timestamp),
            claims: Some(to_struct(&self.claims)),
            oauth_token: self.oauth_token.as_ref().map(|t| session_pb::OAuthToken {
                access_token: t.access_token.expose().to_owned(),
                refresh_token: t.refresh_token.expose().to_owned(),
                token_type: t.token_type.clone(),
                expires_at: t.expires_at.map(timestamp),
            }),
            id_token: self.id_token.expose().to_owned(),
        }
        .encode_to_vec()
    }

    /// Reads record data of type URL `type_url`.
    pub fn decode(type_url: &str, bytes: &[u8]) -> Result<Session, RecordDecodeError> {
        check_type(Session::TYPE_URL, type_url)?;
        let pb = session_pb::Session::decode(bytes)
            .map_err(|e| RecordDecodeError::Invalid(Session::TYPE, e))?;
        Ok(Session {
            id: pb.id,
            user_id: pb.user_id,
            issued_at: pb.issued_at.as_ref().map_or(UNIX_EPOCH, system_time),
            expires_at: pb.expires_at.as_ref().map_or(UNIX_EPOCH, system_time),
            refreshed_at: pb.refreshed_at.as_ref().map(system_time),
            claims: pb.claims.map(from_struct).unwrap_or_default(),
            oauth_token: pb.oauth_token.map(|t| OAuthToken {
                access_token: SecretString::new(t.access_token),
                refresh_token: SecretString::new(t.refresh_token),
                token_type: t.token_type,
                expires_at: t.expires_at.as_ref().map(system_time),
            }),
            id_token: SecretString::new(pb.id_token),
        })
    }
}

// === impl User ===

impl User {
    /// The record data: the encoded `portcullis.user.v1.User` (type URL [`User::TYPE_URL`]).
    pub fn encode(&self) -> Vec<u8> {
        user_pb::User {
            id: self.id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            groups: self.groups.clone(),
            claims: Some(to_struct(&self.claims)),
        }
        .encode_to_vec()
    }

    /// Reads record data of type URL `type_url`.
    pub fn decode(type_url: &str, bytes: &[u8]) -> Result<User, RecordDecodeError> {
        check_type(User::TYPE_URL, type_url)?;
        let pb =
            user_pb::User::decode(bytes).map_err(|e| RecordDecodeError::Invalid(User::TYPE, e))?;
        Ok(User {
            id: pb.id,
            email: pb.email,
            name: pb.name,
            groups: pb.groups,
            claims: pb.claims.map(from_struct).unwrap_or_default(),
        })
    }
}

/// The `user_id` of encoded session data, without decoding the rest (the databroker indexes
/// sessions by it). `None` when the bytes are not a session.
pub fn session_user_id(bytes: &[u8]) -> Option<String> {
    session_pb::Session::decode(bytes)
        .ok()
        .map(|s| s.user_id)
        .filter(|u| !u.is_empty())
}

fn check_type(expected: &'static str, actual: &str) -> Result<(), RecordDecodeError> {
    if actual == expected {
        Ok(())
    } else {
        Err(RecordDecodeError::WrongType {
            expected,
            actual: actual.to_owned(),
        })
    }
}

fn timestamp(t: SystemTime) -> Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or_default(),
    }
}

fn system_time(t: &Timestamp) -> SystemTime {
    let secs = u64::try_from(t.seconds).unwrap_or_default();
    let nanos = u64::try_from(t.nanos).unwrap_or_default();
    UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(nanos)
}

/// JSON claims → `google.protobuf.Struct`.
pub(crate) fn to_struct(map: &Map<String, Value>) -> Struct {
    Struct {
        fields: map.iter().map(|(k, v)| (k.clone(), to_value(v))).collect(),
    }
}

fn to_value(v: &Value) -> PbValue {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(to_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(to_struct(map)),
    };
    PbValue { kind: Some(kind) }
}

/// `google.protobuf.Struct` → JSON claims. Whole numbers come back as integers, so `iat` or
/// a numeric claim compares the way it was written.
pub(crate) fn from_struct(s: Struct) -> Map<String, Value> {
    s.fields
        .into_iter()
        .map(|(k, v)| (k, from_value(v)))
        .collect()
}

fn from_value(v: PbValue) -> Value {
    match v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::NumberValue(n)) => number(n),
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::ListValue(l)) => Value::Array(l.values.into_iter().map(from_value).collect()),
        Some(Kind::StructValue(s)) => Value::Object(from_struct(s)),
    }
}

fn number(n: f64) -> Value {
    // 2^53: beyond it f64 no longer holds every integer.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if n.fract() == 0.0 && n.abs() <= EXACT {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims() -> Map<String, Value> {
        let Value::Object(map) = json!({
            "email": "a@example.com", "iat": 1_700_000_000, "ratio": 0.5, "ok": true,
            "groups": ["a", "b"], "org": {"team": "core"}, "none": null
        }) else {
            unreachable!()
        };
        map
    }

    #[test]
    fn sessions_round_trip_and_tokens_stay_out_of_debug() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        let session = Session {
            id: "s1".into(),
            user_id: "u1".into(),
            issued_at: t,
            expires_at: t + Duration::from_secs(3600),
            refreshed_at: None,
            claims: claims(),
            oauth_token: Some(OAuthToken {
                access_token: SecretString::new("at-secret"),
                refresh_token: SecretString::new("rt-secret"),
                token_type: "Bearer".into(),
                expires_at: Some(t),
            }),
            id_token: SecretString::new("idt-secret"),
        };
        let bytes = session.encode();
        assert_eq!(Session::decode(Session::TYPE_URL, &bytes).unwrap(), session);
        assert_eq!(session_user_id(&bytes).as_deref(), Some("u1"));
        let debug = format!("{session:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(matches!(
            Session::decode(User::TYPE_URL, &bytes),
            Err(RecordDecodeError::WrongType { .. })
        ));
    }

    #[test]
    fn users_round_trip_with_claims() {
        let user = User {
            id: "u1".into(),
            email: "a@example.com".into(),
            name: "A".into(),
            groups: vec!["g".into()],
            claims: claims(),
        };
        assert_eq!(User::decode(User::TYPE_URL, &user.encode()).unwrap(), user);
        assert!(User::decode(User::TYPE_URL, &[0xff, 0xff]).is_err());
    }
}
