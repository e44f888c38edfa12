//! Everything the provider remembers, in memory: login requests waiting for the form, codes,
//! grants and the tokens issued from them. Secrets are stored under their SHA-256
//! ([`TokenKey`]); every entry expires; the maps are bounded.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::identity::Identity;
use crate::random::{self, TokenKey};

/// A login request waits this long for its form.
const REQUEST_TTL: Duration = Duration::from_secs(10 * 60);
/// A code must be exchanged within this long.
const CODE_TTL: Duration = Duration::from_secs(60);
/// A used code is remembered this long past its expiry, so a replay revokes its tokens.
const USED_CODE_KEEP: Duration = Duration::from_secs(10 * 60);
/// At most this many entries per map, after expired ones are swept.
const MAX_ENTRIES: usize = 10_000;

/// A validated authorization request, waiting for the login form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthRequest {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) code_challenge: String,
}

/// Tokens just issued, and what they were issued for.
pub(crate) struct Issued {
    pub(crate) access_token: String,
    pub(crate) refresh_token: Option<String>,
    pub(crate) client_id: String,
    pub(crate) identity: Identity,
    pub(crate) scopes: Vec<String>,
    pub(crate) auth_time: u64,
    /// The authorization request's nonce: set for a code exchange, never for a refresh.
    pub(crate) nonce: Option<String>,
}

/// A code or refresh token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GrantError {
    /// `invalid_grant`, with the reason shown to the client.
    #[error("{0}")]
    Invalid(&'static str),
    /// A refresh asked for a scope the grant does not have.
    #[error("the refresh asks for a scope that was not granted")]
    Scope,
    /// The maps are full of live entries.
    #[error("too many pending logins and tokens; try again later")]
    Full,
}

/// Lifetimes of issued tokens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    pub(crate) access: Duration,
    pub(crate) refresh: Duration,
}

/// The provider's memory. `Debug` shows sizes only.
pub(crate) struct Store {
    lifetimes: Lifetimes,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: HashMap<TokenKey, (AuthRequest, Instant)>,
    codes: HashMap<TokenKey, Code>,
    grants: HashMap<u64, Grant>,
    access: HashMap<TokenKey, (u64, Instant)>,
    refresh: HashMap<TokenKey, Refresh>,
    next_grant: u64,
}

struct Code {
    request: AuthRequest,
    identity: Identity,
    auth_time: u64,
    expires: Instant,
    /// `None` while fresh; once used, the grant issued from it (if any).
    used: Option<Option<u64>>,
}

struct Grant {
    client_id: String,
    identity: Identity,
    scopes: Vec<String>,
    auth_time: u64,
    expires: Instant,
}

struct Refresh {
    grant: u64,
    expires: Instant,
    /// Exchanged for a new one already: presenting it again revokes the grant.
    rotated: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("Store")
            .field("lifetimes", &self.lifetimes)
            .field("requests", &inner.requests.len())
            .field("codes", &inner.codes.len())
            .field("grants", &inner.grants.len())
            .finish_non_exhaustive()
    }
}

// === impl Store ===

impl Store {
    pub(crate) fn new(lifetimes: Lifetimes) -> Store {
        Store {
            lifetimes,
            inner: Mutex::default(),
        }
    }

    pub(crate) fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing here can leave the maps inconsistent, so a panic elsewhere is no reason
        // to stop serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers `request`; returns the opaque id the login form carries.
    pub(crate) fn add_request(
        &self,
        request: AuthRequest,
        now: Instant,
    ) -> Result<String, GrantError> {
        let mut inner = self.lock();
        inner.sweep(now);
        if inner.requests.len() >= MAX_ENTRIES {
            return Err(GrantError::Full);
        }
        let id = random::token();
        inner
            .requests
            .insert(TokenKey::of(&id), (request, now + REQUEST_TTL));
        Ok(id)
    }

    /// The pending request `id`, left in place (the form may be shown again).
    pub(crate) fn request(&self, id: &str, now: Instant) -> Option<AuthRequest> {
        let inner = self.lock();
        let (request, expires) = inner.requests.get(&TokenKey::of(id))?;
        (now < *expires).then(|| request.clone())
    }

    /// The pending request `id`, which can then not be used again.
    pub(crate) fn take_request(&self, id: &str, now: Instant) -> Option<AuthRequest> {
        let (request, expires) = self.lock().requests.remove(&TokenKey::of(id))?;
        (now < expires).then_some(request)
    }

    /// A one-time code for `identity`, answering `request`.
    pub(crate) fn add_code(
        &self,
        request: AuthRequest,
        identity: Identity,
        auth_time: u64,
        now: Instant,
    ) -> Result<String, GrantError> {
        let mut inner = self.lock();
        inner.sweep(now);
        if inner.codes.len() >= MAX_ENTRIES {
            return Err(GrantError::Full);
        }
        let code = random::token();
        let entry = Code {
            request,
            identity,
            auth_time,
            expires: now + CODE_TTL,
            used: None,
        };
        inner.codes.insert(TokenKey::of(&code), entry);
        Ok(code)
    }

    /// Exchanges `code` for tokens. `check` sees the original request (redirect_uri, PKCE)
    /// once the code is known to be fresh and `client_id`'s; the code is spent from then on,
    /// even if `check` fails. A code presented again revokes what it was exchanged for.
    pub(crate) fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        now: Instant,
        check: impl FnOnce(&AuthRequest) -> Result<(), GrantError>,
    ) -> Result<Issued, GrantError> {
        let mut inner = self.lock();
        inner.sweep(now);
        let key = TokenKey::of(code);
        let entry = inner
            .codes
            .get_mut(&key)
            .ok_or(GrantError::Invalid("the code is unknown or expired"))?;
        if let Some(grant) = entry.used {
            if let Some(grant) = grant {
                entry.used = Some(None);
                inner.revoke(grant);
                tracing::warn!(
                    client_id,
                    "dev IdP: a code was replayed; its tokens are revoked"
                );
            }
            return Err(GrantError::Invalid("the code was already used"));
        }
        if entry.expires <= now {
            return Err(GrantError::Invalid("the code is unknown or expired"));
        }
        if entry.request.client_id != client_id {
            return Err(GrantError::Invalid("the code was issued to another client"));
        }
        entry.used = Some(None);
        check(&entry.request)?;
        let grant = Grant {
            client_id: client_id.to_owned(),
            identity: entry.identity.clone(),
            scopes: entry.request.scopes.clone(),
            auth_time: entry.auth_time,
            expires: now,
        };
        let nonce = entry.request.nonce.clone();
        let id = inner.next_grant;
        inner.next_grant += 1;
        if let Some(entry) = inner.codes.get_mut(&key) {
            entry.used = Some(Some(id));
        }
        inner.grants.insert(id, grant);
        let mut issued = inner.issue(id, now, self.lifetimes)?;
        issued.nonce = nonce;
        Ok(issued)
    }

    /// The refresh-token grant: the token is rotated (a rotated token presented again revokes
    /// its grant). `scopes`, when given, must be among those granted.
    pub(crate) fn refresh(
        &self,
        token: &str,
        client_id: &str,
        scopes: Option<&[String]>,
        now: Instant,
    ) -> Result<Issued, GrantError> {
        let mut inner = self.lock();
        inner.sweep(now);
        let key = TokenKey::of(token);
        let unknown = GrantError::Invalid("the refresh token is unknown, expired or revoked");
        let entry = inner.refresh.get(&key).ok_or(unknown)?;
        let grant_id = entry.grant;
        if entry.rotated {
            inner.revoke(grant_id);
            tracing::warn!(
                client_id,
                "dev IdP: a rotated refresh token was reused; its grant is revoked"
            );
            return Err(GrantError::Invalid("the refresh token was already used"));
        }
        let grant = inner.grants.get(&grant_id).ok_or(unknown)?;
        if grant.client_id != client_id {
            return Err(GrantError::Invalid(
                "the refresh token was issued to another client",
            ));
        }
        if scopes.is_some_and(|asked| asked.iter().any(|s| !grant.scopes.contains(s))) {
            return Err(GrantError::Scope);
        }
        if let Some(entry) = inner.refresh.get_mut(&key) {
            entry.rotated = true;
        }
        inner.issue(grant_id, now, self.lifetimes)
    }

    /// Who a live access token was issued for.
    pub(crate) fn access(&self, token: &str, now: Instant) -> Option<Identity> {
        let inner = self.lock();
        let (grant, expires) = inner.access.get(&TokenKey::of(token))?;
        if *expires <= now {
            return None;
        }
        inner.grants.get(grant).map(|g| g.identity.clone())
    }
}

// === impl Inner ===

impl Inner {
    /// A new access token (and a refresh token when `offline_access` was granted) for `grant`.
    fn issue(
        &mut self,
        grant: u64,
        now: Instant,
        lifetimes: Lifetimes,
    ) -> Result<Issued, GrantError> {
        if self.access.len() >= MAX_ENTRIES || self.refresh.len() >= MAX_ENTRIES {
            self.revoke(grant);
            return Err(GrantError::Full);
        }
        let g = self
            .grants
            .get_mut(&grant)
            .ok_or(GrantError::Invalid("the grant was revoked"))?;
        let access_token = random::token();
        let mut expires = now + lifetimes.access;
        let refresh_token = if g.scopes.iter().any(|s| s == "offline_access") {
            expires = expires.max(now + lifetimes.refresh);
            Some(random::token())
        } else {
            None
        };
        g.expires = g.expires.max(expires);
        let issued = Issued {
            access_token,
            refresh_token,
            client_id: g.client_id.clone(),
            identity: g.identity.clone(),
            scopes: g.scopes.clone(),
            auth_time: g.auth_time,
            nonce: None,
        };
        self.access.insert(
            TokenKey::of(&issued.access_token),
            (grant, now + lifetimes.access),
        );
        if let Some(token) = &issued.refresh_token {
            let entry = Refresh {
                grant,
                expires: now + lifetimes.refresh,
                rotated: false,
            };
            self.refresh.insert(TokenKey::of(token), entry);
        }
        Ok(issued)
    }

    /// Forgets `grant` and every token issued from it.
    fn revoke(&mut self, grant: u64) {
        self.grants.remove(&grant);
        self.access.retain(|_, (g, _)| *g != grant);
        self.refresh.retain(|_, r| r.grant != grant);
    }

    fn sweep(&mut self, now: Instant) {
        self.requests.retain(|_, (_, expires)| now < *expires);
        self.codes.retain(|_, c| match c.used {
            Some(_) => now < c.expires + USED_CODE_KEEP,
            None => now < c.expires,
        });
        self.access.retain(|_, (_, expires)| now < *expires);
        self.refresh.retain(|_, r| now < r.expires);
        self.grants.retain(|_, g| now < g.expires);
    }
}

#[cfg(test)]
mod tests;
