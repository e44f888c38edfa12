//! The refresh manager against the real IdP with 4-second access tokens: sessions are
//! refreshed before their tokens expire (new access token, `refreshed_at`), a revoked
//! refresh token deletes the session, and of two managers racing only one refreshes.
//!
//! The IdP rotates refresh tokens at every use and refuses (and revokes the grant on) a
//! reused one, so a session refreshed twice with one token would be deleted: a surviving
//! session after several refreshes shows that no refresh ran twice.

#[path = "authenticate/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use portcullis_authenticate::{Authenticate, REFRESH_LEASE};
use portcullis_databroker::{Storage, StorageError};
use portcullis_proto::Session;
use portcullis_testing::wait::until_async;
use support::{APP, Env, Options, Store};
use tokio::sync::oneshot;

const TTL: Duration = Duration::from_secs(4);
const DEADLINE: Duration = Duration::from_secs(30);

async fn env(store: Store) -> Env {
    support::start(Options {
        store,
        access_token_ttl: Some(TTL),
        ..Options::default()
    })
    .await
}

async fn logged_in(env: &Env) -> Session {
    let browser = support::browser();
    let done = support::login(
        env,
        &browser,
        &support::sign_in_url(env, APP, false),
        "alice",
    )
    .await;
    let (handle, _, _) = support::open_handoff(&done.location.expect("a handoff"));
    let (session, _) = support::session(&*env.storage, &handle.session_id)
        .await
        .unwrap();
    let expires = session.oauth_token.as_ref().unwrap().expires_at.unwrap();
    assert!(
        expires <= SystemTime::now() + TTL,
        "the IdP's short access-token lifetime"
    );
    session
}

/// A running refresh manager; stopped (and its lease released) by `stop`.
struct Manager {
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

fn manager(auth: Arc<Authenticate>) -> Manager {
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(auth.run_refresh(async {
        let _ = stopped.await;
    }));
    Manager {
        shutdown: Some(shutdown),
        task,
    }
}

impl Manager {
    async fn stop(mut self) {
        let _ = self.shutdown.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("the manager stops")
            .unwrap();
    }
}

/// Waits until the session has been refreshed after `after` (or at all); returns it.
async fn refreshed(storage: &dyn Storage, id: &str, after: Option<SystemTime>) -> Session {
    until_async(DEADLINE, "a refresh", || async {
        let (session, _) = support::session(storage, id)
            .await
            .expect("the session lives");
        session
            .refreshed_at
            .filter(|t| after.is_none_or(|a| *t > a))
            .map(|_| session)
    })
    .await
    .unwrap()
}

fn access_token(session: &Session) -> String {
    session
        .oauth_token
        .as_ref()
        .unwrap()
        .access_token
        .expose()
        .to_owned()
}

async fn refreshes_sessions_before_their_tokens_expire(store: Store) {
    let env = env(store).await;
    let session = logged_in(&env).await;
    let manager = manager(Arc::clone(&env.auth));

    let first = refreshed(&*env.storage, &session.id, None).await;
    assert_ne!(access_token(&first), access_token(&session));
    let refreshed_at = first.refreshed_at.unwrap();
    assert!(
        refreshed_at < session.oauth_token.as_ref().unwrap().expires_at.unwrap(),
        "before expiry"
    );
    let new_expiry = first.oauth_token.as_ref().unwrap().expires_at.unwrap();
    assert!(new_expiry > session.oauth_token.as_ref().unwrap().expires_at.unwrap());
    assert_ne!(
        first.oauth_token.as_ref().unwrap().refresh_token,
        session.oauth_token.as_ref().unwrap().refresh_token,
        "the IdP rotated the refresh token"
    );
    assert_eq!(
        first.expires_at, session.expires_at,
        "the session's own lifetime is kept"
    );
    assert_eq!(first.claims["sub"], "alice");

    // And again, with the rotated refresh token.
    let second = refreshed(&*env.storage, &session.id, Some(refreshed_at)).await;
    assert_ne!(access_token(&second), access_token(&first));
    let user = support::user(&*env.storage, "alice").await.unwrap();
    assert_eq!(user.email, "alice@example.com");
    manager.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_refreshed_before_their_tokens_expire() {
    refreshes_sessions_before_their_tokens_expire(Store::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_refreshed_on_postgres() {
    refreshes_sessions_before_their_tokens_expire(Store::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_deletes_the_session() {
    let env = env(Store::Memory).await;
    let session = logged_in(&env).await;
    let keep = logged_in(&env).await;
    assert_ne!(session.id, keep.id);

    // Revoke the first session's refresh token at the IdP.
    let discovery = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        env.provider.issuer()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let discovery: serde_json::Value = serde_json::from_str(&discovery).unwrap();
    let refresh_token = session
        .oauth_token
        .as_ref()
        .unwrap()
        .refresh_token
        .expose()
        .to_owned();
    let revoked = reqwest::Client::new()
        .post(discovery["revocation_endpoint"].as_str().unwrap())
        .basic_auth(support::CLIENT_ID, Some(support::CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "token={refresh_token}&token_type_hint=refresh_token"
        ))
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{revoked:?}");

    let manager = manager(Arc::clone(&env.auth));
    until_async(DEADLINE, "the revoked session's deletion", || async {
        support::session(&*env.storage, &session.id)
            .await
            .is_none()
            .then_some(())
    })
    .await
    .unwrap();
    // The other session (its own grant) is refreshed, not deleted.
    let other = refreshed(&*env.storage, &keep.id, None).await;
    assert_ne!(access_token(&other), access_token(&keep));
    manager.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_racing_managers_one_refreshes() {
    let env = env(Store::Memory).await;
    let session = logged_in(&env).await;
    let other = Arc::new(Authenticate::new(&env.config, Arc::clone(&env.storage)).unwrap());
    let a = manager(Arc::clone(&env.auth));
    let b = manager(other);

    let mut at = None;
    for _ in 0..3 {
        let s = refreshed(&*env.storage, &session.id, at).await;
        at = s.refreshed_at;
    }
    assert!(
        matches!(
            env.storage
                .acquire_lease(REFRESH_LEASE, Duration::from_secs(1))
                .await,
            Err(StorageError::LeaseHeld(_))
        ),
        "a manager holds the lease"
    );
    assert!(
        support::session(&*env.storage, &session.id).await.is_some(),
        "never refreshed twice"
    );

    // Stopped managers release the lease at once (no waiting out its time to live).
    a.stop().await;
    b.stop().await;
    let lease = env
        .storage
        .acquire_lease(REFRESH_LEASE, Duration::from_secs(1))
        .await;
    assert!(lease.is_ok(), "{lease:?}");
}
