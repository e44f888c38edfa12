//! Parsers for the typed values a configuration holds. Each returns a message fit to show
//! after the key name, naming what was expected.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Parses a Go-style duration as Pomerium writes them: `30s`, `1h30m`, `500ms`, `14h`.
/// A bare `0` means zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let err = || format!("{text:?} is not a duration (write it like 30s, 5m, 1h30m or 250ms)");
    if text.is_empty() {
        return Err(err());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if digits == 0 {
            return Err(err());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(number * seconds_per_unit).map_err(|_| err())?;
    }
    Ok(total)
}

/// Parses a listen address: `:443` (every interface), `127.0.0.1:8443`, `[::1]:443`,
/// `localhost:443`.
pub fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    let err = || format!("{text:?} is not a listen address (write it like :443 or 127.0.0.1:8443)");
    if let Some(port) = text.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| err())?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    if let Some(port) = text.strip_prefix("localhost:") {
        let port: u16 = port.parse().map_err(|_| err())?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    text.parse().map_err(|_| err())
}

/// Decodes base64 (standard or URL-safe, padded or not).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

/// Decodes a base64 secret that must be exactly 32 bytes.
pub fn parse_key32(text: &str) -> Result<[u8; 32], String> {
    let bytes = decode_base64(text).ok_or_else(|| {
        "is not base64 (generate one with `portcullis gen-secret` or `head -c32 /dev/urandom | base64`)"
            .to_owned()
    })?;
    let key = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "must decode to 32 bytes, got {} (generate one with `portcullis gen-secret`)",
            bytes.len()
        )
    })?;
    // A placeholder, not a secret: anyone could forge sessions and service tokens with it.
    if key == [0u8; 32] {
        return Err(
            "is all zero bytes: use a random secret (generate one with `portcullis gen-secret`)"
                .to_owned(),
        );
    }
    Ok(key)
}

/// Accepts PEM text directly or base64-encoded PEM (Pomerium's form) and returns the PEM.
pub fn pem_text(value: &str) -> Vec<u8> {
    if value.contains("-----BEGIN") {
        return value.as_bytes().to_vec();
    }
    match decode_base64(value) {
        Some(bytes) if bytes.windows(10).any(|w| w == b"-----BEGIN") => bytes,
        _ => value.as_bytes().to_vec(),
    }
}

/// Checks that PEM holds at least one certificate; returns their count.
pub fn check_certificates(pem: &[u8]) -> Result<usize, String> {
    let mut n = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        cert.map_err(|e| format!("is not a PEM certificate: {e}"))?;
        n += 1;
    }
    if n == 0 {
        return Err("holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)".into());
    }
    Ok(n)
}

/// Checks that PEM holds a private key (PKCS#8, PKCS#1 or SEC1).
pub fn check_private_key(pem: &[u8]) -> Result<(), String> {
    PrivateKeyDer::from_pem_slice(pem)
        .map(drop)
        .map_err(|_| "holds no PEM private key (expected -----BEGIN ... PRIVATE KEY-----)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_go() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "30", "s", "3x", "1h-5m", "h1"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen_address(":443").unwrap().to_string(),
            "0.0.0.0:443"
        );
        assert_eq!(
            parse_listen_address("localhost:80").unwrap().to_string(),
            "127.0.0.1:80"
        );
        assert_eq!(parse_listen_address("[::1]:5443").unwrap().port(), 5443);
        assert!(parse_listen_address("443").is_err());
        assert!(parse_listen_address(":99999").is_err());
    }

    #[test]
    fn key32_needs_exactly_32_bytes() {
        let good = STANDARD.encode([7u8; 32]);
        assert_eq!(parse_key32(&good), Ok([7u8; 32]));
        assert_eq!(
            parse_key32(&URL_SAFE_NO_PAD.encode([7u8; 32])),
            Ok([7u8; 32])
        );
        assert!(
            parse_key32(&STANDARD.encode([7u8; 16]))
                .unwrap_err()
                .contains("got 16")
        );
        assert!(parse_key32("not base64!").is_err());
        assert!(
            parse_key32(&STANDARD.encode([0u8; 32]))
                .unwrap_err()
                .contains("all zero")
        );
    }
}
