//! `client_certificate`: `fingerprint`, `spki_hash`, `san_dns`, `san_email`, `san_uri`.
//!
//! Every condition given must hold. Fingerprints (SHA-256 hex, with or without colons) and
//! SPKI hashes (base64 SHA-256) are decoded to bytes at compile time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_yaml::Node;

use crate::error::Sink;
use crate::input::Input;
use crate::matchers::{Case, StringMatcher, scalar_list, unique_keys};
use crate::reasons::Reason;

/// A compiled certificate matcher; `None` fields are conditions not asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct CertificateMatcher {
    fingerprints: Option<Box<[[u8; 32]]>>,
    spki_hashes: Option<Box<[[u8; 32]]>>,
    san_dns: Option<StringMatcher>,
    san_email: Option<StringMatcher>,
    san_uri: Option<StringMatcher>,
}

const KEYS: &str = "fingerprint, spki_hash, san_dns, san_email or san_uri";

/// A SHA-256 fingerprint: 64 hex digits, optionally in colon-separated pairs, any case.
pub(crate) fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let digits: Vec<u8> = if text.contains(':') {
        let pairs: Vec<&str> = text.split(':').collect();
        if pairs.len() != 32 || pairs.iter().any(|p| p.len() != 2) {
            return None;
        }
        pairs.concat().into_bytes()
    } else {
        text.as_bytes().to_vec()
    };
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
        let hex = |c: u8| (c as char).to_digit(16);
        *byte = u8::try_from(hex(pair[0])? * 16 + hex(pair[1])?).ok()?;
    }
    Some(out)
}

/// A base64 (standard alphabet, padded) SHA-256 of a SubjectPublicKeyInfo.
pub(crate) fn parse_spki_hash(text: &str) -> Option<[u8; 32]> {
    STANDARD.decode(text.trim()).ok()?.try_into().ok()
}

// === impl CertificateMatcher ===

impl CertificateMatcher {
    pub(super) fn compile(value: &Node, sink: &mut Sink<'_>) -> Option<CertificateMatcher> {
        let Some(entries) = value.as_map().filter(|e| !e.is_empty()) else {
            sink.expected(value, &format!("a mapping with {KEYS}"));
            return None;
        };
        let before = sink.count();
        unique_keys(entries, sink);
        let mut m = CertificateMatcher::default();
        for (key, value) in entries {
            let name = key.as_str().unwrap_or_default();
            let mut sink = sink.nested(", ", format_args!("\"{name}\""));
            let sink = &mut sink;
            match name {
                "fingerprint" => m.fingerprints = hashes(value, parse_fingerprint, FP, sink),
                "spki_hash" => m.spki_hashes = hashes(value, parse_spki_hash, SPKI, sink),
                "san_dns" => {
                    m.san_dns = StringMatcher::compile(value, Case::AsciiInsensitive, sink)
                }
                "san_email" => {
                    m.san_email = StringMatcher::compile(value, Case::AsciiInsensitive, sink)
                }
                "san_uri" => m.san_uri = StringMatcher::compile(value, Case::Sensitive, sink),
                _ => sink.error(key, format_args!("is not known here (expected {KEYS})")),
            }
        }
        (sink.count() == before).then_some(m)
    }

    pub(super) fn evaluate(&self, input: &Input<'_>) -> (bool, Reason) {
        let Some(cert) = &input.request.client_certificate else {
            return (false, Reason::ClientCertificateRequired);
        };
        let any_san = |m: &Option<StringMatcher>, sans: &[String]| {
            m.as_ref()
                .is_none_or(|m| sans.iter().any(|san| m.matches(san)))
        };
        let ok = self
            .fingerprints
            .as_ref()
            .is_none_or(|list| list.contains(&cert.fingerprint_sha256))
            && self
                .spki_hashes
                .as_ref()
                .is_none_or(|list| list.contains(&cert.spki_sha256))
            && any_san(&self.san_dns, cert.san_dns)
            && any_san(&self.san_email, cert.san_email)
            && any_san(&self.san_uri, cert.san_uri);
        match ok {
            true => (true, Reason::ClientCertificateOk),
            false => (false, Reason::ClientCertificateUnauthorized),
        }
    }
}

const FP: &str = "a SHA-256 fingerprint (64 hex digits, optionally colon-separated)";
const SPKI: &str = "a base64-encoded SHA-256 SPKI hash";

fn hashes(
    value: &Node,
    parse: fn(&str) -> Option<[u8; 32]>,
    what: &str,
    sink: &mut Sink<'_>,
) -> Option<Box<[[u8; 32]]>> {
    let items = scalar_list(value, sink)?;
    let before = sink.count();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let text = item.as_str().unwrap_or_default();
        match parse(text) {
            Some(hash) => out.push(hash),
            None => sink.error(item, format_args!("\"{text}\" is not {what}")),
        }
    }
    (sink.count() == before).then(|| out.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{anonymous, compile, eval};
    use super::*;
    use crate::input::ClientCertificate;
    use crate::reasons::Reason::*;

    const FP_SHORT: &str = "17859273e8a980631d367b2d5a6a6635412b0f22835f69e47b3f65624546a704";
    const FP_LONG: &str = "17:85:92:73:E8:A9:80:63:1D:36:7B:2D:5A:6A:66:35:41:2B:0F:22:83:5F:69:E4:7B:3F:65:62:45:46:A7:04";
    const SPKI_B64: &str = "FsDbM0rUYIiL3V339eIKqiz6HPSB+Pz2WeAWhqlqh8U=";

    fn with_cert(cert: ClientCertificate<'static>) -> Input<'static> {
        let mut input = anonymous();
        input.request.client_certificate = Some(cert);
        input
    }

    fn cert() -> ClientCertificate<'static> {
        static DNS: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| vec!["svc.internal".into(), "api.Example.com".into()]);
        static EMAIL: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| vec!["bot@yourdomain.com".into()]);
        ClientCertificate {
            fingerprint_sha256: parse_fingerprint(FP_SHORT).unwrap(),
            spki_sha256: parse_spki_hash(SPKI_B64).unwrap(),
            san_dns: &DNS,
            san_email: &EMAIL,
            san_uri: &[],
        }
    }

    #[test]
    fn fingerprint_forms_agree() {
        assert_eq!(parse_fingerprint(FP_SHORT), parse_fingerprint(FP_LONG));
        assert_eq!(parse_fingerprint(FP_SHORT).unwrap()[0], 0x17);
        assert!(parse_fingerprint(&FP_SHORT[2..]).is_none());
        assert!(parse_fingerprint(&FP_SHORT.replace('1', "g")).is_none());
        assert!(parse_fingerprint("17:85").is_none());
        assert!(parse_spki_hash("not base64!").is_none());
        assert!(parse_spki_hash("AAAA").is_none());
    }

    #[test]
    fn each_condition() {
        let input = with_cert(cert());
        let ok = (true, ClientCertificateOk);
        let no = (false, ClientCertificateUnauthorized);
        assert_eq!(
            eval(
                &format!("client_certificate: {{fingerprint: '{FP_LONG}'}}"),
                &input
            ),
            ok
        );
        assert_eq!(
            eval(
                &format!(
                    "client_certificate: {{fingerprint: ['{}']}}",
                    "ab".repeat(32)
                ),
                &input
            ),
            no
        );
        assert_eq!(
            eval(
                &format!("client_certificate: {{spki_hash: ['{SPKI_B64}']}}"),
                &input
            ),
            ok
        );
        assert_eq!(
            eval(
                "client_certificate: {san_dns: {ends_with: .example.com}}",
                &input
            ),
            ok
        );
        assert_eq!(
            eval("client_certificate: {san_dns: other.internal}", &input),
            no
        );
        assert_eq!(
            eval(
                "client_certificate: {san_email: {ends_with: '@yourdomain.com'}}",
                &input
            ),
            ok
        );
        assert_eq!(
            eval(
                "client_certificate: {san_uri: {starts_with: 'spiffe://'}}",
                &input
            ),
            no
        );
        let both = format!("client_certificate: {{spki_hash: '{SPKI_B64}', san_dns: nope}}");
        assert_eq!(eval(&both, &input), no);
        assert_eq!(
            eval("client_certificate: {san_dns: svc.internal}", &anonymous()),
            (false, ClientCertificateRequired)
        );
    }

    #[test]
    fn errors_name_the_key() {
        let messages: Vec<_> = compile("client_certificate: {fingerprint: [abc], serial: 1}")
            .unwrap_err()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(
            messages,
            [
                format!(
                    "op: criterion \"client_certificate\", \"fingerprint\": \"abc\" is not {FP}"
                ),
                format!(
                    "op: criterion \"client_certificate\", \"serial\": is not known here (expected {KEYS})"
                ),
            ]
        );
        assert!(compile("client_certificate: {}").is_err());
        assert!(compile("client_certificate: {spki_hash: AAAA}").is_err());
    }
}
