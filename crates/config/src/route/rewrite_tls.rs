//! Route keys that shape the upstream request: `host_rewrite`, `regex_rewrite_*` and the
//! upstream client certificate (`tls_client_cert`/`_key`, inline or `_file`).

use crate::config::CertificatePair;
use crate::problem::Collector;
use crate::raw::{RawRoute, Spanned};
use crate::secret::Secret;
use crate::values::{check_certificates, check_private_key, pem_text};

/// `regex_rewrite_pattern` with its `regex_rewrite_substitution` (`$1`, `${name}` groups).
#[derive(Debug, Clone)]
pub struct RegexRewrite {
    /// Matched against the (normalized) request path.
    pub pattern: regex::Regex,
    /// What each match is replaced with.
    pub substitution: String,
}

pub(super) fn regex_rewrite(
    raw: &RawRoute,
    key: &dyn Fn(&str) -> String,
    p: &mut Collector,
) -> Option<RegexRewrite> {
    match (&raw.regex_rewrite_pattern, &raw.regex_rewrite_substitution) {
        (None, None) => None,
        (Some(pattern), Some(substitution)) => match regex::Regex::new(&pattern.value) {
            Ok(pattern) => Some(RegexRewrite {
                pattern,
                substitution: substitution.value.clone(),
            }),
            Err(e) => {
                p.add(
                    key("regex_rewrite_pattern"),
                    Some(&pattern.origin),
                    format!("is not a valid regex: {e}"),
                );
                None
            }
        },
        (Some(one), None) | (None, Some(one)) => {
            p.add(
                key("regex_rewrite_pattern"),
                Some(&one.origin),
                "give `regex_rewrite_pattern` together with `regex_rewrite_substitution`",
            );
            None
        }
    }
}

pub(super) fn host_rewrite(
    raw: &RawRoute,
    key: &dyn Fn(&str) -> String,
    p: &mut Collector,
) -> Option<String> {
    let host = raw.host_rewrite.as_ref()?;
    let valid = !host.value.is_empty()
        && host
            .value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !valid {
        p.add(
            key("host_rewrite"),
            Some(&host.origin),
            format!(
                "{:?} is not a host name (with an optional port)",
                host.value
            ),
        );
        return None;
    }
    if raw.preserve_host_header.as_ref().is_some_and(|s| s.value) {
        p.add(
            key("host_rewrite"),
            Some(&host.origin),
            "set only one of `host_rewrite` and `preserve_host_header`",
        );
    }
    Some(host.value.clone())
}

pub(super) fn client_certificate(
    raw: &RawRoute,
    key: &dyn Fn(&str) -> String,
    p: &mut Collector,
) -> Option<CertificatePair> {
    let read = |v: &Spanned<String>| {
        std::fs::read(&v.value).map_err(|e| format!("cannot read {:?}: {e}", v.value))
    };
    let (field, origin, cert, key_pem) = match (
        &raw.tls_client_cert,
        &raw.tls_client_key,
        &raw.tls_client_cert_file,
        &raw.tls_client_key_file,
    ) {
        (None, None, None, None) => return None,
        (Some(c), Some(k), None, None) => (
            "tls_client_cert",
            &c.origin,
            Ok(pem_text(&c.value)),
            Ok(pem_text(&k.value)),
        ),
        (None, None, Some(c), Some(k)) => ("tls_client_cert_file", &c.origin, read(c), read(k)),
        (c, k, cf, kf) => {
            let origin = [c, k, cf, kf]
                .into_iter()
                .flatten()
                .next()
                .map(|s| &s.origin);
            p.add(
                key("tls_client_cert"),
                origin,
                "give `tls_client_cert` with `tls_client_key`, or `tls_client_cert_file` with \
                 `tls_client_key_file`",
            );
            return None;
        }
    };
    let cert = cert.and_then(|c| check_certificates(&c).map(|_| c));
    let key_pem = key_pem.and_then(|k| check_private_key(&k).map(|()| k));
    match (cert, key_pem) {
        (Ok(cert_pem), Ok(key_pem)) => Some(CertificatePair {
            cert_pem,
            key_pem: Secret::new(key_pem),
        }),
        (c, k) => {
            for m in [c.err(), k.err()].into_iter().flatten() {
                p.add(key(field), Some(origin), m);
            }
            None
        }
    }
}
