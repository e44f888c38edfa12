//! Fuzz target bodies (`fuzz/fuzz_targets/*.rs` call these; so does the workspace smoke test
//! `tests/tests/fuzz_smoke.rs`, over the seed corpus). Not an API: each function takes
//! arbitrary bytes, must never panic on them, and asserts the security property of the
//! decoder it drives.

use std::time::{Duration, UNIX_EPOCH};

use tonic::metadata::{MetadataMap, MetadataValue};

use crate::{
    HandoffCodec, Sealer, ServerAuth, SessionCookie, SessionHandle, SessionHandleCodec,
    SharedSecret, UrlSigner,
};

/// The key every target uses (fixed, so seeds stay meaningful).
pub const KEY: [u8; 32] = [0x5a; 32];

/// The cookie / session-handle decoder: the `Cookie` header split, then the handle opened
/// as the proxy and authorize do. Nothing but an untouched token sealed under [`KEY`] opens;
/// a plaintext sealed under the handle's key parses only into a handle that round-trips.
/// The handoff and signed-URL decoders get the same bytes.
pub fn session_handle(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let codec = SessionHandleCodec::new(&KEY);
    let cookie = SessionCookie::new(&cookie_options());
    let token = cookie.find([text]).unwrap_or(text);
    if let Ok(handle) = codec.open(token) {
        // The fuzzer cannot forge AES-GCM: this is a seed's genuine token (or it trimmed).
        round_trip(&codec, &handle);
    }
    // The plaintext parser behind the tag check: seal the bytes as a handle would be sealed.
    let sealed = Sealer::new(&KEY, "session-handle").seal(data);
    if let Ok(handle) = codec.open(&sealed) {
        round_trip(&codec, &handle);
    }
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let _ = HandoffCodec::new(&KEY).open(text, now);
    if let Ok(url) = url::Url::parse(text) {
        let _ = UrlSigner::new(&KEY).verify(&url, now);
    }
}

fn round_trip(codec: &SessionHandleCodec, handle: &SessionHandle) {
    let again = codec
        .open(&codec.seal(handle))
        .expect("a handle sealed by the codec opens");
    assert_eq!(&again, handle, "sealing and opening round-trips");
}

fn cookie_options() -> portcullis_config::CookieOptions {
    portcullis_config::CookieOptions {
        name: "_portcullis".into(),
        secret: portcullis_config::Secret::new(KEY),
        secret_generated: false,
        expire: Duration::from_secs(3600),
        domain: None,
        same_site: portcullis_config::SameSite::Lax,
        http_only: true,
        secure: true,
    }
}

/// The service-token verifier (`authorization: Bearer <jwt>` between roles): no input the
/// fuzzer makes carries a valid HS256 signature under [`KEY`], so every one is refused.
pub fn service_token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let server = ServerAuth::new(&SharedSecret::from(KEY));
    for value in [text.to_owned(), format!("Bearer {text}")] {
        let Ok(value) = value.parse::<MetadataValue<_>>() else {
            continue;
        };
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", value);
        let result = server.check(&metadata);
        assert!(
            result.is_err(),
            "a forged service token was accepted: {text:?}"
        );
        assert_eq!(result.unwrap_err().code(), tonic::Code::Unauthenticated);
    }
}
