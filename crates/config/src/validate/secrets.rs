//! Secrets, keys, certificates, the identity provider and storage: the keys whose values are
//! secret or read from files.

use std::collections::BTreeMap;

use crate::config::{CertificatePair, IdpOptions, StorageOptions};
use crate::problem::Collector;
use crate::raw::{ClaimsHeaders, RawConfig, Spanned};
use crate::route::check_header_names;
use crate::secret::{Key32, Secret};
use crate::values::{check_certificates, check_private_key, parse_key32, pem_text};

use super::{text, url};

/// A secret given inline or as `<key>_file`; reads the file.
pub(super) fn secret_text(
    inline: &Option<Spanned<String>>,
    file: &Option<Spanned<String>>,
    key: &str,
    p: &mut Collector,
) -> Option<Spanned<String>> {
    match (inline, file) {
        (Some(v), Some(_)) => {
            p.add(
                key,
                Some(&v.origin),
                format!("set only one of `{key}` and `{key}_file`"),
            );
            None
        }
        (Some(v), None) => Some(v.clone()),
        (None, Some(f)) => match std::fs::read_to_string(&f.value) {
            Ok(text) => Some(Spanned {
                value: text.trim_end().to_owned(),
                origin: f.origin.clone(),
            }),
            Err(e) => {
                p.add(
                    format!("{key}_file"),
                    Some(&f.origin),
                    format!("cannot read {:?}: {e}", f.value),
                );
                None
            }
        },
        (None, None) => None,
    }
}

pub(super) fn key32(
    inline: &Option<Spanned<String>>,
    file: &Option<Spanned<String>>,
    key: &str,
    p: &mut Collector,
) -> Option<Key32> {
    let s = secret_text(inline, file, key, p)?;
    parse_key32(&s.value)
        .map(Secret::new)
        .map_err(|m| p.add(key, Some(&s.origin), m))
        .ok()
}

pub(super) fn signing_key(raw: &RawConfig, p: &mut Collector) -> Option<Secret<Vec<u8>>> {
    let s = secret_text(&raw.signing_key, &raw.signing_key_file, "signing_key", p)?;
    let pem = pem_text(&s.value);
    check_private_key(&pem)
        .map(|()| Secret::new(pem))
        .map_err(|m| p.add("signing_key", Some(&s.origin), m))
        .ok()
}

pub(super) fn idp(raw: &RawConfig, required: bool, p: &mut Collector) -> Option<IdpOptions> {
    let secret = secret_text(
        &raw.idp_client_secret,
        &raw.idp_client_secret_file,
        "idp_client_secret",
        p,
    );
    let provider_url = url(&raw.idp_provider_url, "idp_provider_url", p);
    let any_set =
        raw.idp_provider_url.is_some() || raw.idp_client_id.is_some() || raw.idp_provider.is_some();
    if !required && !any_set {
        return None;
    }
    for (key, missing) in [
        ("idp_provider_url", raw.idp_provider_url.is_none()),
        ("idp_client_id", raw.idp_client_id.is_none()),
    ] {
        if missing {
            p.add(
                key,
                None,
                "is required for the authenticate role (the OpenID Connect issuer and client)",
            );
        }
    }
    let provider = text(&raw.idp_provider).unwrap_or_else(|| "oidc".to_owned());
    const OIDC_PROVIDERS: &[&str] = &[
        "oidc", "google", "okta", "auth0", "azure", "onelogin", "ping", "keycloak", "cognito",
        "gitlab",
    ];
    if !OIDC_PROVIDERS.contains(&provider.as_str()) {
        let origin = raw.idp_provider.as_ref().map(|s| &s.origin);
        p.add(
            "idp_provider",
            origin,
            format!(
                "{provider:?} is not supported yet (OpenID Connect providers: {})",
                OIDC_PROVIDERS.join(", ")
            ),
        );
    }
    Some(IdpOptions {
        provider,
        provider_url: provider_url?,
        client_id: text(&raw.idp_client_id)?,
        client_secret: Secret::new(secret.map(|s| s.value).unwrap_or_default()),
        scopes: raw
            .idp_scopes
            .as_ref()
            .map(|s| s.value.0.clone())
            .unwrap_or_else(|| {
                ["openid", "profile", "email", "offline_access"]
                    .map(str::to_owned)
                    .to_vec()
            }),
    })
}

pub(super) fn storage(raw: &RawConfig, p: &mut Collector) -> StorageOptions {
    let connection = secret_text(
        &raw.databroker_storage_connection_string,
        &raw.databroker_storage_connection_string_file,
        "databroker_storage_connection_string",
        p,
    );
    let kind = raw.databroker_storage_type.as_ref();
    match kind.map(|s| s.value.as_str()) {
        None | Some("memory") => StorageOptions::Memory,
        Some("postgres") => match connection {
            Some(c)
                if c.value.starts_with("postgres://") || c.value.starts_with("postgresql://") =>
            {
                StorageOptions::Postgres {
                    connection_string: Secret::new(c.value),
                }
            }
            Some(c) => {
                p.add(
                    "databroker_storage_connection_string",
                    Some(&c.origin),
                    "must be a postgres:// or postgresql:// URL",
                );
                StorageOptions::Memory
            }
            None => {
                p.add(
                    "databroker_storage_connection_string",
                    None,
                    "is required when `databroker_storage_type` is postgres",
                );
                StorageOptions::Memory
            }
        },
        Some(other) => {
            p.add(
                "databroker_storage_type",
                kind.map(|s| &s.origin),
                format!("{other:?} is not memory or postgres"),
            );
            StorageOptions::Memory
        }
    }
}

/// Reads a PEM value that may be inline, base64, or (when `maybe_path`) a file path.
fn pem_value(value: &str, maybe_path: bool) -> Result<Vec<u8>, String> {
    if maybe_path && !value.contains("-----BEGIN") && std::path::Path::new(value).is_file() {
        return std::fs::read(value).map_err(|e| format!("cannot read {value:?}: {e}"));
    }
    Ok(pem_text(value))
}

pub(super) fn certificates(raw: &RawConfig, p: &mut Collector) -> Vec<CertificatePair> {
    let mut out = Vec::new();
    let mut add = |key: &str,
                   origin: &portcullis_yaml::Origin,
                   cert: Result<Vec<u8>, String>,
                   key_pem: Result<Vec<u8>, String>,
                   p: &mut Collector| {
        let cert = cert.and_then(|c| check_certificates(&c).map(|_| c));
        let key_pem = key_pem.and_then(|k| check_private_key(&k).map(|()| k));
        match (cert, key_pem) {
            (Ok(cert_pem), Ok(key_pem)) => out.push(CertificatePair {
                cert_pem,
                key_pem: Secret::new(key_pem),
            }),
            (c, k) => {
                for m in [c.err(), k.err()].into_iter().flatten() {
                    p.add(key, Some(origin), m);
                }
            }
        }
    };
    if let Some(list) = &raw.certificates {
        for (i, c) in list.value.iter().enumerate() {
            add(
                &format!("certificates[{i}]"),
                &list.origin,
                pem_value(&c.cert, true),
                pem_value(&c.key, true),
                p,
            );
        }
    }
    let read = |v: &Spanned<String>| {
        std::fs::read(&v.value).map_err(|e| format!("cannot read {:?}: {e}", v.value))
    };
    let pair = match (
        &raw.certificate,
        &raw.certificate_key,
        &raw.certificate_file,
        &raw.certificate_key_file,
    ) {
        (Some(c), Some(k), None, None) => Some((
            "certificate",
            c.origin.clone(),
            Ok(pem_text(&c.value)),
            Ok(pem_text(&k.value)),
        )),
        (None, None, Some(c), Some(k)) => {
            Some(("certificate_file", c.origin.clone(), read(c), read(k)))
        }
        (None, None, None, None) => None,
        (c, k, cf, kf) => {
            let origin = [c, k, cf, kf]
                .into_iter()
                .flatten()
                .next()
                .map(|s| &s.origin);
            p.add("certificate", origin, "give `certificate` with `certificate_key`, or `certificate_file` with `certificate_key_file`");
            None
        }
    };
    if let Some((key, origin, cert, key_pem)) = pair {
        add(key, &origin, cert, key_pem, p);
    }
    out
}

/// `certificate_authority` (PEM or base64 PEM) or `certificate_authority_file` (a path).
pub(super) fn certificate_authority(raw: &RawConfig, p: &mut Collector) -> Option<Vec<u8>> {
    let (key, pem, origin) = match (&raw.certificate_authority, &raw.certificate_authority_file) {
        (Some(a), Some(_)) => {
            p.add(
                "certificate_authority",
                Some(&a.origin),
                "set only one of `certificate_authority` and `certificate_authority_file`",
            );
            return None;
        }
        (Some(a), None) => ("certificate_authority", pem_text(&a.value), &a.origin),
        (None, Some(f)) => match std::fs::read(&f.value) {
            Ok(bytes) => ("certificate_authority_file", bytes, &f.origin),
            Err(e) => {
                p.add(
                    "certificate_authority_file",
                    Some(&f.origin),
                    format!("cannot read {:?}: {e}", f.value),
                );
                return None;
            }
        },
        (None, None) => return None,
    };
    check_certificates(&pem)
        .map(|_| pem)
        .map_err(|m| p.add(key, Some(origin), m))
        .ok()
}

pub(super) fn claims_headers(raw: &RawConfig, p: &mut Collector) -> BTreeMap<String, String> {
    let Some(s) = &raw.jwt_claims_headers else {
        return BTreeMap::new();
    };
    let map: BTreeMap<String, String> = match &s.value {
        ClaimsHeaders::Map(m) => m.clone(),
        ClaimsHeaders::List(claims) => claims
            .iter()
            .map(|c| (format!("X-Portcullis-Claim-{}", title_case(c)), c.clone()))
            .collect(),
    };
    check_header_names(map.keys(), "jwt_claims_headers", &s.origin, p);
    map
}

fn title_case(claim: &str) -> String {
    claim
        .split(['_', '-'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// `metrics_basic_auth` (or `_file`): base64 of `user:pass`, as Pomerium takes it.
pub(super) fn metrics_basic_auth(raw: &RawConfig, p: &mut Collector) -> Option<Secret<Vec<u8>>> {
    use base64::Engine as _;
    const KEY: &str = "metrics_basic_auth";
    let s = secret_text(
        &raw.metrics_basic_auth,
        &raw.metrics_basic_auth_file,
        KEY,
        p,
    )?;
    match base64::engine::general_purpose::STANDARD.decode(s.value.trim()) {
        Ok(pair) if pair.contains(&b':') => Some(Secret::new(pair)),
        _ => {
            p.add(
                KEY,
                Some(&s.origin),
                "must be base64 of `user:password` (e.g. `echo -n user:pass | base64`)",
            );
            None
        }
    }
}
