//! Who is asking: the session handle's session and user, read from the local replica.
//!
//! Records are decoded once per (session version, user version) and cached, so the hot path
//! costs two replica version reads (nothing copied) and a version comparison. When the session is not in the replica:
//!
//! - the replica has already applied the version the handle was issued at → the session was
//!   deleted (or expired by TTL): **no session**, decided locally even if the databroker is
//!   away;
//! - otherwise the replica is behind the handle (just after login, or cut off from the
//!   databroker): wait up to [`REPLICA_WAIT`] for it (read-your-writes), then ask the
//!   databroker directly; if that fails too, the answer is **unavailable** (`503`), never a
//!   guess.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use portcullis_databroker::{Record, Storage, SyncClient};
use portcullis_grpc::SessionHandle;
use portcullis_proto::{Session, User};
use serde_json::{Map, Value};

use crate::IdentityClaims;

/// How long a request waits for the replica to reach the handle's version.
pub const REPLICA_WAIT: Duration = Duration::from_millis(500);
/// How long the direct databroker read may take after that.
const DIRECT_TIMEOUT: Duration = Duration::from_secs(1);
const SHARDS: usize = 16;
/// A shard of decoded identities is emptied when it grows past this many entries.
const SHARD_LIMIT: usize = 16_384;

/// A signed-in identity, decoded from its session and user records.
#[derive(Debug)]
pub(crate) struct Identity {
    session_version: u64,
    user_version: u64,
    /// The session id.
    pub(crate) session_id: String,
    /// When the session stops being valid.
    pub(crate) expires_at: SystemTime,
    /// `email`, if known.
    pub(crate) email: Option<String>,
    /// Session (ID token) claims overlaid with the user's claims.
    pub(crate) claims: Map<String, Value>,
    /// What the identity JWT states.
    pub(crate) jwt: IdentityClaims,
}

/// The outcome of looking a handle up.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// The session exists (it may still be expired: the caller checks the time).
    Found(Arc<Identity>),
    /// There is no such session (deleted, or never written in this storage epoch).
    Missing,
    /// The replica cannot tell and the databroker cannot be asked.
    Unavailable,
}

/// Session and user lookups over a replica, with decoded identities cached.
#[derive(Debug)]
pub(crate) struct Sessions {
    replica: Arc<SyncClient>,
    storage: Arc<dyn Storage>,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<String, Arc<Identity>>>>,
}

// === impl Sessions ===

impl Sessions {
    pub(crate) fn new(replica: Arc<SyncClient>, storage: Arc<dyn Storage>) -> Sessions {
        Sessions {
            replica,
            storage,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub(crate) fn replica(&self) -> &SyncClient {
        &self.replica
    }

    /// The identity `handle` names.
    pub(crate) async fn lookup(&self, handle: &SessionHandle) -> Lookup {
        if let Some(found) = self.read_replica(handle) {
            return found;
        }
        if self.replica_has_seen(handle.version) {
            return Lookup::Missing;
        }
        let _ = tokio::time::timeout(REPLICA_WAIT, self.replica.wait_for(handle.version)).await;
        if let Some(found) = self.read_replica(handle) {
            return found;
        }
        if self.replica_has_seen(handle.version) {
            return Lookup::Missing;
        }
        self.read_databroker(handle).await
    }

    fn replica_has_seen(&self, version: u64) -> bool {
        let progress = self.replica.progress();
        progress.server_version != 0 && progress.record_version >= version
    }

    /// `None` when the replica does not hold the session.
    fn read_replica(&self, handle: &SessionHandle) -> Option<Lookup> {
        let session_version = self.replica.version(Session::TYPE, &handle.session_id)?;
        let user_version = self.replica.version(User::TYPE, &handle.user_id);
        if let Some(cached) = self.cached(handle, session_version, user_version.unwrap_or(0)) {
            return Some(Lookup::Found(cached));
        }
        // A miss: copy the records out to decode them (they may have moved on meanwhile;
        // the identity records the versions it was decoded from).
        let session = self.replica.get(Session::TYPE, &handle.session_id)?;
        let user = self.replica.get(User::TYPE, &handle.user_id);
        Some(self.identity(handle, &session, user.as_ref()))
    }

    async fn read_databroker(&self, handle: &SessionHandle) -> Lookup {
        let read = async {
            let session = self.storage.get(Session::TYPE, &handle.session_id).await?;
            let Some(session) = session else {
                return Ok(Lookup::Missing);
            };
            let user = self.storage.get(User::TYPE, &handle.user_id).await?;
            Ok::<_, portcullis_databroker::StorageError>(self.identity(
                handle,
                &session,
                user.as_ref(),
            ))
        };
        match tokio::time::timeout(DIRECT_TIMEOUT, read).await {
            Ok(Ok(lookup)) => lookup,
            Ok(Err(error)) => {
                tracing::warn!(%error, "the databroker cannot be read; answering unavailable");
                Lookup::Unavailable
            }
            Err(_) => {
                tracing::warn!("the databroker did not answer in time; answering unavailable");
                Lookup::Unavailable
            }
        }
    }

    fn shard(&self, session_id: &str) -> &Mutex<HashMap<String, Arc<Identity>>> {
        &self.shards[(self.hasher.hash_one(session_id) as usize) % SHARDS]
    }

    /// The cached identity decoded from exactly these record versions.
    fn cached(
        &self,
        handle: &SessionHandle,
        session_version: u64,
        user_version: u64,
    ) -> Option<Arc<Identity>> {
        lock(self.shard(&handle.session_id))
            .get(&handle.session_id)
            .filter(|cached| {
                cached.session_version == session_version
                    && cached.user_version == user_version
                    && cached.jwt.user_id == handle.user_id
            })
            .cloned()
    }

    /// The cached identity for these records' versions, decoding on a miss.
    fn identity(&self, handle: &SessionHandle, session: &Record, user: Option<&Record>) -> Lookup {
        let user_version = user.map_or(0, |u| u.version);
        if let Some(cached) = self.cached(handle, session.version, user_version) {
            return Lookup::Found(cached);
        }
        let shard = self.shard(&handle.session_id);
        let Some(identity) = decode(handle, session, user) else {
            return Lookup::Missing;
        };
        let identity = Arc::new(identity);
        let mut map = lock(shard);
        if map.len() >= SHARD_LIMIT {
            map.clear();
        }
        map.insert(handle.session_id.clone(), Arc::clone(&identity));
        Lookup::Found(identity)
    }
}

/// Decodes the records; `None` when the session is unreadable or belongs to another user
/// than the handle says.
fn decode(handle: &SessionHandle, session: &Record, user: Option<&Record>) -> Option<Identity> {
    let s = match Session::decode(&session.data.type_url, &session.data.value) {
        Ok(s) => s,
        Err(error) => {
            tracing::warn!(%error, session_id = %handle.session_id, "unreadable session record");
            return None;
        }
    };
    if s.user_id != handle.user_id {
        tracing::warn!(session_id = %handle.session_id, "session handle names another user");
        return None;
    }
    let u = user.and_then(|r| match User::decode(&r.data.type_url, &r.data.value) {
        Ok(u) => Some(u),
        Err(error) => {
            tracing::warn!(%error, user_id = %handle.user_id, "unreadable user record");
            None
        }
    });
    let mut claims = s.claims;
    let u = u.unwrap_or_default();
    claims.extend(u.claims);
    let text = |own: String, claim: &str| {
        Some(own)
            .filter(|v| !v.is_empty())
            .or_else(|| claims.get(claim).and_then(Value::as_str).map(str::to_owned))
    };
    let email = text(u.email, "email");
    let name = text(u.name, "name").unwrap_or_default();
    let groups = if u.groups.is_empty() {
        claims
            .get("groups")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|g| g.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        u.groups
    };
    Some(Identity {
        session_version: session.version,
        user_version: user.map_or(0, |u| u.version),
        session_id: s.id,
        expires_at: s.expires_at,
        email: email.clone(),
        jwt: IdentityClaims {
            user_id: s.user_id,
            email: email.unwrap_or_default(),
            groups,
            name,
        },
        claims,
    })
}

// === impl Identity ===

impl Identity {
    /// Changes whenever the session or the user record changes (versions are global and
    /// strictly increasing, so the larger one moves on every write of either).
    pub(crate) fn version(&self) -> u64 {
        self.session_version.max(self.user_version)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves a plain cache; its contents are still valid.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
