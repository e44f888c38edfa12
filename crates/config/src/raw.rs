//! The raw layer: each key of the YAML (or environment) deserialized on its own, so one bad
//! value never hides another. Validation into typed values happens in `validate`.

use std::collections::BTreeMap;
use std::fmt;

use portcullis_yaml::{Node, Origin, from_node};
use serde::Deserialize;
use serde::de::{self, Visitor};

use crate::pomerium;
use crate::problem::Collector;

/// A value and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) origin: Origin,
}

/// Declares a raw struct whose fields are all optional and each read from its own key.
macro_rules! raw_struct {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub(crate) struct $name {
            $(pub(crate) $field: Option<Spanned<$ty>>,)*
        }

        impl $name {
            /// Every key this struct accepts.
            pub(crate) const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Reads one key; false when the key is not one of this struct's.
            pub(crate) fn set(&mut self, key: &str, node: &Node, path: &str, problems: &mut Collector) -> bool {
                match key {
                    $(stringify!($field) => {
                        match from_node::<$ty>(node) {
                            Ok(value) => self.$field = Some(Spanned { value, origin: node.origin.clone() }),
                            Err(e) => problems.add_de(path, &node.origin, e),
                        }
                        true
                    })*
                    _ => false,
                }
            }
        }
    };
}

raw_struct! {
    /// Top-level keys (the route list is read separately).
    RawConfig {
        services: StringList,
        address: String,
        grpc_address: String,
        http_redirect_addr: String,
        metrics_address: String,
        metrics_basic_auth: String,
        metrics_basic_auth_file: String,
        show_error_details: bool,
        insecure_server: bool,
        grpc_insecure: bool,
        authenticate_service_url: String,
        authenticate_internal_service_url: String,
        authorize_service_url: String,
        authorize_service_urls: StringList,
        authorize_internal_service_url: String,
        databroker_service_url: String,
        databroker_service_urls: StringList,
        shared_secret: String,
        shared_secret_file: String,
        cookie_secret: String,
        cookie_secret_file: String,
        cookie_name: String,
        cookie_expire: String,
        cookie_domain: String,
        cookie_same_site: String,
        cookie_http_only: bool,
        cookie_secure: bool,
        signing_key: String,
        signing_key_file: String,
        idp_provider: String,
        idp_provider_url: String,
        idp_client_id: String,
        idp_client_secret: String,
        idp_client_secret_file: String,
        idp_scopes: StringList,
        databroker_storage_type: String,
        databroker_storage_connection_string: String,
        databroker_storage_connection_string_file: String,
        certificates: Vec<RawCertificate>,
        certificate: String,
        certificate_key: String,
        certificate_file: String,
        certificate_key_file: String,
        certificate_authority: String,
        certificate_authority_file: String,
        jwt_claims_headers: ClaimsHeaders,
        pass_identity_headers: bool,
        set_response_headers: BTreeMap<String, String>,
        dns_refresh_rate: String,
        dns_resolvers: StringList,
        log_level: String,
        log_format: String,
        default_upstream_timeout: String,
        timeout_read: String,
        timeout_write: String,
        timeout_idle: String,
        signout_redirect_url: String,
        forward_auth_trusted_addresses: StringList,
    }
}

raw_struct! {
    /// One entry of `routes` (its `policy` is kept as a node for the policy compiler).
    RawRoute {
        id: String,
        name: String,
        description: String,
        from: String,
        to: OneOrMany,
        prefix: String,
        path: String,
        regex: String,
        prefix_rewrite: String,
        preserve_host_header: bool,
        set_request_headers: BTreeMap<String, String>,
        remove_request_headers: StringList,
        set_response_headers: BTreeMap<String, String>,
        pass_identity_headers: bool,
        allow_websockets: bool,
        timeout: String,
        idle_timeout: String,
        tls_skip_verify: bool,
        tls_server_name: String,
        tls_upstream_server_name: String,
        tls_custom_ca: String,
        tls_custom_ca_file: String,
        tls_client_cert: String,
        tls_client_key: String,
        tls_client_cert_file: String,
        tls_client_key_file: String,
        host_rewrite: String,
        regex_rewrite_pattern: String,
        regex_rewrite_substitution: String,
        allowed_users: StringList,
        allowed_domains: StringList,
        allowed_idp_claims: BTreeMap<String, Vec<serde_json::Value>>,
        allow_public_unauthenticated_access: bool,
        allow_any_authenticated_user: bool,
        cors_allow_preflight: bool,
    }
}

/// Reads the keys of a mapping into a raw struct through `set`; reports keys that are not
/// mappings, unknown keys (with the closest known one) and Pomerium keys not supported yet.
pub(crate) fn read_map(
    node: &Node,
    path: &str,
    known: &[&str],
    problems: &mut Collector,
    mut set: impl FnMut(&str, &Node, &str, &mut Collector) -> bool,
) {
    let Some(entries) = node.as_map() else {
        let name = if path.is_empty() {
            "the configuration"
        } else {
            path
        };
        problems.add(
            name,
            Some(&node.origin),
            format!("expected a mapping of keys, found {}", node.describe()),
        );
        return;
    };
    for (key, value) in entries {
        let Some(key_text) = key.as_str() else {
            let name = if path.is_empty() {
                "the configuration"
            } else {
                path
            };
            problems.add(name, Some(&key.origin), "keys must be strings");
            continue;
        };
        // An empty key (`: value`) is named as written, so every problem names a key.
        let shown = if key_text.is_empty() {
            "\"\""
        } else {
            key_text
        };
        let full = if path.is_empty() {
            shown.to_owned()
        } else {
            format!("{path}.{shown}")
        };
        if set(key_text, value, &full, problems) {
            continue;
        }
        let message = match pomerium::unsupported(key_text) {
            Some(note) => format!("is a Pomerium key that portcullis does not support yet{note}"),
            None => match closest(key_text, known) {
                Some(guess) => format!("unknown key (did you mean `{guess}`?)"),
                None => "unknown key".to_owned(),
            },
        };
        problems.add(full, Some(&key.origin), message);
    }
}

/// The known key nearest to a misspelled one, if it is near enough to be a typo.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 5))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A list written as a YAML list or as one comma-separated string (`services: proxy,authorize`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StringList(pub(crate) Vec<String>);

/// One string or a list of them, never split on commas (`to: http://a,10` carries a weight).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OneOrMany(pub(crate) Vec<String>);

/// `jwt_claims_headers`: a map of header → claim, or a list of claims.
#[derive(Debug, Clone)]
pub(crate) enum ClaimsHeaders {
    Map(BTreeMap<String, String>),
    List(Vec<String>),
}

/// One entry of `certificates`: PEM inline, base64 PEM, or a file path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCertificate {
    pub(crate) cert: String,
    pub(crate) key: String,
}

/// Accepts a string (split on commas when `split`), a list of strings, or (for claims
/// headers) a mapping.
struct ListVisitor {
    split: bool,
}

impl<'de> Visitor<'de> for ListVisitor {
    type Value = ClaimsHeaders;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ClaimsHeaders, E> {
        Ok(ClaimsHeaders::List(if self.split {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        } else {
            vec![v.to_owned()]
        }))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ClaimsHeaders, E> {
        Ok(ClaimsHeaders::List(vec![v.to_string()]))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ClaimsHeaders, E> {
        Ok(ClaimsHeaders::List(vec![v.to_string()]))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ClaimsHeaders, E> {
        Ok(ClaimsHeaders::List(vec![v.to_string()]))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ClaimsHeaders, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(ClaimsHeaders::List(items))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ClaimsHeaders, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<String, String>()? {
            out.insert(k, v);
        }
        Ok(ClaimsHeaders::Map(out))
    }
}

fn list<'de, D: serde::Deserializer<'de>>(d: D, split: bool) -> Result<Vec<String>, D::Error> {
    // `deserialize_str` accepts any scalar; lists need `deserialize_any`.
    match d.deserialize_any(ListVisitor { split })? {
        ClaimsHeaders::List(items) => Ok(items),
        ClaimsHeaders::Map(_) => Err(de::Error::custom(
            "expected a string or a list of strings, found a mapping",
        )),
    }
}

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        list(d, true).map(StringList)
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        list(d, false).map(OneOrMany)
    }
}

impl<'de> Deserialize<'de> for ClaimsHeaders {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor { split: true })
    }
}
