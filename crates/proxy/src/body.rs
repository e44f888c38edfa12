//! Body helpers: small fixed bodies, a request body that can be handed to a second upstream
//! when the first could not be connected to, and a response body bounded by the route's
//! `timeout` deadline and `idle_timeout`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt as _, Empty, Full};
use tokio::time::{Instant, Sleep};

use crate::{BoxError, ProxyBody};

/// A body of `bytes`.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// No body.
pub(crate) fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A request body that can be sent again as long as no attempt has read from it: an
/// upstream that refuses the connection never sees a byte, so the next one can have it.
pub(crate) struct Reclaimable {
    slot: Arc<Mutex<Option<ProxyBody>>>,
    hint: SizeHint,
    end_stream: bool,
}

/// One attempt's view of a [`Reclaimable`] body: takes the body on first read.
struct Attempt {
    slot: Arc<Mutex<Option<ProxyBody>>>,
    inner: Option<ProxyBody>,
    hint: SizeHint,
    end_stream: bool,
}

/// A response body that fails once `deadline` passes or no frame came for `idle`.
pub(crate) struct Timed<B> {
    inner: B,
    deadline: Option<Pin<Box<Sleep>>>,
    idle: Option<(Duration, Pin<Box<Sleep>>)>,
}

/// Why a [`Timed`] body stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyTimeout {
    /// The route's `timeout` passed before the response was complete.
    #[error("the route timeout passed while streaming the response")]
    Deadline,
    /// `idle_timeout` passed with no data.
    #[error("no data for the route's idle_timeout")]
    Idle,
}

// === impl Reclaimable ===

impl Reclaimable {
    pub(crate) fn new(body: ProxyBody) -> Reclaimable {
        Reclaimable {
            hint: body.size_hint(),
            end_stream: body.is_end_stream(),
            slot: Arc::new(Mutex::new(Some(body))),
        }
    }

    /// A body for one more attempt; `None` once an earlier attempt has started reading.
    pub(crate) fn attempt(&self) -> Option<ProxyBody> {
        let available = self.slot.lock().map(|s| s.is_some()).unwrap_or(false);
        available.then(|| {
            Attempt {
                slot: Arc::clone(&self.slot),
                inner: None,
                hint: self.hint,
                end_stream: self.end_stream,
            }
            .boxed_unsync()
        })
    }
}

impl Body for Attempt {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.inner.is_none() {
            let taken = self.slot.lock().ok().and_then(|mut s| s.take());
            match taken {
                Some(body) => self.inner = Some(body),
                None => return Poll::Ready(Some(Err("the request body was already sent".into()))),
            }
        }
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Some(inner) => inner.is_end_stream(),
            None => self.end_stream,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Some(inner) => inner.size_hint(),
            None => self.hint,
        }
    }
}

// === impl Timed ===

impl<B> Timed<B> {
    pub(crate) fn new(inner: B, deadline: Option<Instant>, idle: Option<Duration>) -> Timed<B> {
        Timed {
            inner,
            deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
            idle: idle.map(|d| (d, Box::pin(tokio::time::sleep(d)))),
        }
    }
}

impl<B> Body for Timed<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some((idle, sleep)) = this.idle.as_mut() {
                    sleep.as_mut().reset(Instant::now() + *idle);
                }
                return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
            }
            Poll::Pending => {}
        }
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Some(Err(BodyTimeout::Deadline.into())));
        }
        if let Some((_, sleep)) = this.idle.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Some(Err(BodyTimeout::Idle.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reclaimable_body_is_available_until_read() {
        let body = Reclaimable::new(full("hello"));
        let first = body.attempt().expect("first attempt");
        assert_eq!(first.size_hint().exact(), Some(5));
        drop(first);
        let second = body
            .attempt()
            .expect("an unread attempt gives the body back");
        let bytes = second.collect().await.unwrap().to_bytes();
        assert_eq!(bytes, "hello");
        assert!(body.attempt().is_none(), "read once, gone");
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_body_fails_when_idle() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
        let stream = http_body_util::StreamBody::new(futures_util::stream::unfold(
            rx,
            |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, std::convert::Infallible>(Frame::data(b)), rx))
            },
        ));
        let mut timed = Timed::new(Box::pin(stream), None, Some(Duration::from_secs(2)));
        tx.send(Bytes::from_static(b"a")).await.unwrap();
        let frame = timed.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "a");
        let err = timed.frame().await.unwrap().unwrap_err();
        assert!(err.downcast_ref::<BodyTimeout>().is_some(), "{err}");
        drop(tx);
    }
}
