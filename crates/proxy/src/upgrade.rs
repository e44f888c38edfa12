//! Upgraded connections (WebSockets): once both sides have switched protocols, bytes are
//! copied both ways while the original request is re-authorized every
//! [`REAUTHORIZE_EVERY`](crate::forward::REAUTHORIZE_EVERY) with the same credentials. When
//! the answer becomes a deny — the session was deleted or expired, the policy changed — both
//! sides are closed. A `503` (authorize cannot tell right now) keeps the connection open.
//! With the route's `idle_timeout`, a tunnel with no bytes either way for that long closes;
//! every tunnel closes when the server's shutdown begins.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use portcullis_proto::{AuthorizeDecision, AuthorizeRequest, Authorizer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::forward::REAUTHORIZE_EVERY;

/// Both halves of an upgrade and what keeps watching it.
pub(crate) struct Tunnel {
    pub(crate) client: OnUpgrade,
    pub(crate) upstream: OnUpgrade,
    pub(crate) authorizer: Arc<dyn Authorizer>,
    pub(crate) check: AuthorizeRequest,
    pub(crate) idle: Option<Duration>,
    /// Becomes `true` when the server shuts down.
    pub(crate) closing: tokio::sync::watch::Receiver<bool>,
}

/// Why a tunnel ended.
#[derive(Debug)]
enum End {
    Closed(std::io::Result<(u64, u64)>),
    Denied(u16),
    Idle,
    Shutdown,
}

/// Runs the tunnel in its own task.
pub(crate) fn spawn(tunnel: Tunnel) {
    tokio::spawn(run(tunnel));
}

async fn run(mut tunnel: Tunnel) {
    let request_id = tunnel.check.request_id.clone();
    let (client, upstream) = match tokio::try_join!(tunnel.client, tunnel.upstream) {
        Ok(pair) => pair,
        Err(error) => {
            tracing::debug!(%request_id, %error, "upgrade did not complete");
            return;
        }
    };
    let activity = Arc::new(Activity::new());
    let mut client = Watched::new(TokioIo::new(client), Arc::clone(&activity));
    let mut upstream = Watched::new(TokioIo::new(upstream), Arc::clone(&activity));
    let end = tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => End::Closed(copied),
        status = until_denied(tunnel.authorizer.as_ref(), &tunnel.check) => End::Denied(status),
        () = until_idle(&activity, tunnel.idle) => End::Idle,
        _ = tunnel.closing.wait_for(|closing| *closing) => End::Shutdown,
    };
    // Dropping both sides closes them.
    drop((client, upstream));
    match end {
        End::Closed(Ok((up, down))) => {
            tracing::debug!(%request_id, up, down, "upgraded connection closed");
        }
        End::Closed(Err(error)) => {
            tracing::debug!(%request_id, %error, "upgraded connection failed");
        }
        End::Denied(status) => {
            tracing::info!(%request_id, status, "upgraded connection closed: no longer authorized");
        }
        End::Idle => tracing::debug!(%request_id, "upgraded connection closed: idle"),
        End::Shutdown => tracing::debug!(%request_id, "upgraded connection closed: shutdown"),
    }
}

/// Re-authorizes `check` until the answer is a deny other than `503`; returns its status.
async fn until_denied(authorizer: &dyn Authorizer, check: &AuthorizeRequest) -> u16 {
    let mut ticks = tokio::time::interval(REAUTHORIZE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match authorizer.authorize(check).await {
            AuthorizeDecision::Allow(_) => {}
            AuthorizeDecision::Deny(deny) if deny.status == 503 => {}
            AuthorizeDecision::Deny(deny) => return deny.status,
        }
    }
}

/// Resolves once no byte moved for `idle`; never without one.
async fn until_idle(activity: &Activity, idle: Option<Duration>) {
    let Some(idle) = idle.filter(|d| !d.is_zero()) else {
        return std::future::pending().await;
    };
    loop {
        let quiet = activity.quiet_for();
        if quiet >= idle {
            return;
        }
        tokio::time::sleep(idle - quiet).await;
    }
}

/// When bytes last moved through a tunnel.
#[derive(Debug)]
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// An I/O half that records activity.
struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    fn new(io: T, activity: Arc<Activity>) -> Watched<T> {
        Watched { io, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
