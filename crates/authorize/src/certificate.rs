//! What the `client_certificate` criterion needs from a DER certificate: its SHA-256
//! fingerprint, the SHA-256 of its SubjectPublicKeyInfo, and its DNS / email / URI SANs.
//!
//! A deliberately small DER walk over the fields we need (RFC 5280 §4.1), not a general
//! X.509 parser: the TLS layer has already verified the certificate.

use ring::digest::{SHA256, digest};

/// A certificate as the policy sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CertificateInfo {
    pub(crate) fingerprint_sha256: [u8; 32],
    pub(crate) spki_sha256: [u8; 32],
    pub(crate) san_dns: Vec<String>,
    pub(crate) san_email: Vec<String>,
    pub(crate) san_uri: Vec<String>,
}

/// The id-ce-subjectAltName OID (2.5.29.17), DER-encoded.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

/// Reads `der`. A certificate whose structure cannot be walked still gets its fingerprint
/// (so fingerprint rules work), with an all-zero SPKI hash and no SANs.
pub(crate) fn parse(der: &[u8]) -> CertificateInfo {
    let mut info = CertificateInfo {
        fingerprint_sha256: sha256(der),
        ..CertificateInfo::default()
    };
    let _ = walk(der, &mut info);
    info
}

fn walk(der: &[u8], info: &mut CertificateInfo) -> Option<()> {
    let (cert, _) = tlv(der, 0x30)?;
    let (tbs, _) = tlv(cert, 0x30)?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest, 0xa0)?.1;
    }
    for tag in [0x02, 0x30, 0x30, 0x30, 0x30] {
        // serialNumber, signature, issuer, validity, subject
        rest = tlv(rest, tag)?.1;
    }
    let spki_len = rest.len() - tlv(rest, 0x30)?.1.len();
    info.spki_sha256 = sha256(&rest[..spki_len]);
    rest = &rest[spki_len..];
    while let Some(&tag) = rest.first() {
        let (body, next) = tlv(rest, tag)?;
        if tag == 0xa3 {
            extensions(body, info)?;
        }
        rest = next;
    }
    Some(())
}

fn extensions(explicit: &[u8], info: &mut CertificateInfo) -> Option<()> {
    let (mut list, _) = tlv(explicit, 0x30)?;
    while !list.is_empty() {
        let (ext, next) = tlv(list, 0x30)?;
        list = next;
        let (oid, mut rest) = tlv(ext, 0x06)?;
        if oid != SAN_OID {
            continue;
        }
        if rest.first() == Some(&0x01) {
            rest = tlv(rest, 0x01)?.1; // critical
        }
        let (value, _) = tlv(rest, 0x04)?;
        let (mut names, _) = tlv(value, 0x30)?;
        while let Some(&tag) = names.first() {
            let (name, next) = tlv(names, tag)?;
            names = next;
            let text = || String::from_utf8(name.to_vec()).ok();
            match tag {
                0x81 => info.san_email.extend(text()),
                0x82 => info.san_dns.extend(text()),
                0x86 => info.san_uri.extend(text()),
                _ => {}
            }
        }
    }
    Some(())
}

/// One TLV with tag `tag` at the start of `der`: (contents, what follows).
fn tlv(der: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = der.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    rest.split_at_checked(len)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed P-256 certificate with SANs `DNS:svc.example.com`,
    /// `email:a@example.com`, `URI:spiffe://example.com/svc` (openssl req -x509).
    const CERT_B64: &str = include_str!("certificate/test_cert.b64");

    #[test]
    fn sans_and_hashes_come_out_of_a_real_certificate() {
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(CERT_B64.split_whitespace().collect::<String>())
            .unwrap();
        let info = parse(&der);
        assert_eq!(info.san_dns, vec!["svc.example.com"]);
        assert_eq!(info.san_email, vec!["a@example.com"]);
        assert_eq!(info.san_uri, vec!["spiffe://example.com/svc"]);
        assert_eq!(info.fingerprint_sha256, sha256(&der));
        // openssl x509 -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(info.spki_sha256),
            "bNcOJr70z3b2KwTIv4jYIqv5qv4WDXPWp167f5V6h64="
        );
        let garbage = parse(&[1, 2, 3]);
        assert!(garbage.san_dns.is_empty() && garbage.spki_sha256 == [0; 32]);
    }
}
