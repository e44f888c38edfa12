//! The authenticate host's own session: its cookie, checked against the databroker.

use std::time::SystemTime;

use axum::http::HeaderMap;
use portcullis_databroker::StorageError;
use portcullis_grpc::SessionHandle;
use portcullis_proto::Session;

use crate::Authenticate;
use crate::handlers::cookies;
use crate::records::read_session;

/// A browser's live session on the authenticate host.
#[derive(Debug)]
pub(crate) struct BrowserSession {
    /// The cookie value (the sealed handle), reusable as a handoff token.
    pub(crate) token: String,
    pub(crate) session: Session,
}

// === impl Authenticate ===

impl Authenticate {
    /// The handle in the request's session cookie, if it opens.
    pub(crate) fn cookie_handle(&self, headers: &HeaderMap) -> Option<(String, SessionHandle)> {
        let token = self.session_cookie.find(cookies(headers))?;
        let handle = self.handles.open(token).ok()?;
        Some((token.to_owned(), handle))
    }

    /// The request's session, when its cookie opens, the record is still in the
    /// databroker, belongs to the handle's user and has not expired.
    pub(crate) async fn browser_session(
        &self,
        headers: &HeaderMap,
        now: SystemTime,
    ) -> Result<Option<BrowserSession>, StorageError> {
        let Some((token, handle)) = self.cookie_handle(headers) else {
            return Ok(None);
        };
        let Some((session, _)) = read_session(&*self.storage, &handle.session_id).await? else {
            return Ok(None);
        };
        if session.user_id != handle.user_id || session.is_expired(now) {
            return Ok(None);
        }
        Ok(Some(BrowserSession { token, session }))
    }
}
