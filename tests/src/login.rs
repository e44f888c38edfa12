//! Logged-in sessions written the way authenticate writes them: a `user` and a `session`
//! record in one databroker put, and the handle a cookie or bearer token would carry.

use portcullis_databroker::{Data, RecordWrite, Storage};
use portcullis_grpc::SessionHandle;
use portcullis_proto::{Session, User};

/// Writes `user` and `session` in one put; returns the handle naming them, with the version
/// the records were written at (what authorize waits for its replica to reach).
pub async fn write_login(
    databroker: &dyn Storage,
    session: &Session,
    user: &User,
) -> SessionHandle {
    let data = |type_url: &str, value| Data {
        type_url: type_url.to_owned(),
        value,
    };
    let written = databroker
        .put(vec![
            RecordWrite::put(User::TYPE, &user.id, data(User::TYPE_URL, user.encode())),
            RecordWrite::put(
                Session::TYPE,
                &session.id,
                data(Session::TYPE_URL, session.encode()),
            ),
        ])
        .await
        .expect("write the login records");
    SessionHandle {
        session_id: session.id.clone(),
        user_id: session.user_id.clone(),
        issued_at: session.issued_at,
        version: written.iter().map(|r| r.version).max().unwrap_or_default(),
    }
}
