use std::time::{Duration, Instant};

use super::*;

fn store() -> Store {
    Store::new(Lifetimes {
        access: Duration::from_secs(3600),
        refresh: Duration::from_secs(86_400),
    })
}

fn request(scopes: &[&str]) -> AuthRequest {
    AuthRequest {
        client_id: "app".into(),
        redirect_uri: "http://app/cb".into(),
        state: Some("s".into()),
        nonce: Some("n".into()),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        code_challenge: "c".into(),
    }
}

fn alice() -> Identity {
    Identity::from_form("alice@example.com", "admins").unwrap()
}

fn ok(_: &AuthRequest) -> Result<(), GrantError> {
    Ok(())
}

#[test]
fn a_request_waits_for_its_form_and_is_taken_once() {
    let (store, now) = (store(), Instant::now());
    let id = store.add_request(request(&["openid"]), now).unwrap();
    assert_eq!(store.request(&id, now), Some(request(&["openid"])));
    assert_eq!(store.take_request(&id, now), Some(request(&["openid"])));
    assert_eq!(store.take_request(&id, now), None);
    let id = store.add_request(request(&["openid"]), now).unwrap();
    assert_eq!(store.request(&id, now + REQUEST_TTL), None, "expired");
    assert_eq!(store.take_request("made-up", now), None);
}

#[test]
fn a_code_is_exchanged_once_and_a_replay_revokes_its_tokens() {
    let (store, now) = (store(), Instant::now());
    let code = store
        .add_code(request(&["openid"]), alice(), 1, now)
        .unwrap();
    let issued = store.redeem_code(&code, "app", now, ok).unwrap();
    assert_eq!(issued.nonce.as_deref(), Some("n"));
    assert!(
        issued.refresh_token.is_none(),
        "no offline_access, no refresh token"
    );
    assert_eq!(store.access(&issued.access_token, now), Some(alice()));

    let replay = store.redeem_code(&code, "app", now, ok);
    assert_eq!(
        replay.err(),
        Some(GrantError::Invalid("the code was already used"))
    );
    assert_eq!(store.access(&issued.access_token, now), None, "revoked");
}

#[test]
fn a_code_is_refused_when_expired_foreign_or_failing_its_check() {
    let (store, now) = (store(), Instant::now());
    let code = store
        .add_code(request(&["openid"]), alice(), 1, now)
        .unwrap();
    assert!(store.redeem_code(&code, "app", now + CODE_TTL, ok).is_err());

    let code = store
        .add_code(request(&["openid"]), alice(), 1, now)
        .unwrap();
    assert!(store.redeem_code(&code, "other", now, ok).is_err());
    let failed = store.redeem_code(&code, "app", now, |_| Err(GrantError::Invalid("pkce")));
    assert_eq!(failed.err(), Some(GrantError::Invalid("pkce")));
    assert!(
        store.redeem_code(&code, "app", now, ok).is_err(),
        "a failed exchange spends the code"
    );
}

#[test]
fn refresh_rotates_and_a_reused_refresh_token_revokes_the_grant() {
    let (store, now) = (store(), Instant::now());
    let code = store
        .add_code(request(&["openid", "offline_access"]), alice(), 1, now)
        .unwrap();
    let first = store.redeem_code(&code, "app", now, ok).unwrap();
    let r1 = first.refresh_token.unwrap();

    assert!(store.refresh(&r1, "other", None, now).is_err());
    let wider = ["openid".to_string(), "admin".to_string()];
    assert_eq!(
        store.refresh(&r1, "app", Some(&wider), now).err(),
        Some(GrantError::Scope)
    );

    let second = store.refresh(&r1, "app", None, now).unwrap();
    assert!(second.nonce.is_none());
    let r2 = second.refresh_token.unwrap();
    assert_ne!(r1, r2);
    assert_eq!(store.access(&second.access_token, now), Some(alice()));

    assert!(store.refresh(&r1, "app", None, now).is_err(), "rotated");
    assert!(
        store.refresh(&r2, "app", None, now).is_err(),
        "grant revoked"
    );
    assert_eq!(store.access(&second.access_token, now), None);
    assert_eq!(store.access(&first.access_token, now), None);
}

#[test]
fn access_tokens_expire() {
    let (store, now) = (store(), Instant::now());
    let code = store
        .add_code(request(&["openid"]), alice(), 1, now)
        .unwrap();
    let issued = store.redeem_code(&code, "app", now, ok).unwrap();
    let later = now + Duration::from_secs(3600);
    assert_eq!(store.access(&issued.access_token, later), None);
    assert!(!format!("{store:?}").contains(&issued.access_token));
}

#[test]
fn a_used_code_is_remembered_past_its_expiry_so_a_late_replay_still_revokes() {
    let (store, now) = (store(), Instant::now());
    let code = store
        .add_code(request(&["openid"]), alice(), 1, now)
        .unwrap();
    let issued = store.redeem_code(&code, "app", now, ok).unwrap();
    // Any write sweeps; the used code must survive the sweep after CODE_TTL.
    let later = now + CODE_TTL + Duration::from_secs(1);
    store.add_request(request(&["openid"]), later).unwrap();
    assert!(store.redeem_code(&code, "app", later, ok).is_err());
    assert_eq!(
        store.access(&issued.access_token, later),
        None,
        "revoked by the late replay"
    );
}
