//! `/.portcullis/`: who you are on this host — email, name, groups, session expiry, read from
//! the session and user records through the databroker — with a sign-out button.
//!
//! The host's first route decides who may look: a `302`/`401` from authorize (not signed in)
//! is answered as-is; a `403` still shows the page (a signed-in user who may not use the
//! route can still see who they are and sign out).

use std::time::{SystemTime, UNIX_EPOCH};

use http::{Request, Response, StatusCode};
use portcullis_proto::{AuthorizeDecision, Session, User};

use super::page::{self, escape};
use super::{Call, session, sign_out};
use crate::ProxyBody;
use crate::pipeline::{authorize_request, deny_response, public_scheme};
use crate::rescue::Failure;

pub(super) async fn serve<B>(
    call: &Call<'_>,
    request: &Request<B>,
) -> Result<Response<ProxyBody>, Failure> {
    let check = authorize_request(
        Some(&call.route.route.id),
        call.request_id,
        request.method(),
        public_scheme(call.info, call.route),
        call.target,
        request.headers(),
        call.info,
    );
    if let AuthorizeDecision::Deny(deny) = call.proxy.authorizer.authorize(&check).await
        && matches!(deny.status, 302 | 401 | 503)
    {
        return Ok(deny_response(deny));
    }
    let token = session::token(request.headers(), &call.snapshot.credentials.cookie_name);
    let handle = token.and_then(|t| call.snapshot.sessions.open(t).ok());
    let Some(handle) = handle else {
        return Ok(not_signed_in());
    };
    let storage = &call.proxy.databroker;
    let unavailable = |e: portcullis_databroker::StorageError| Failure::Unavailable(e.into());
    let Some(record) = storage
        .get(Session::TYPE, &handle.session_id)
        .await
        .map_err(unavailable)?
    else {
        return Ok(not_signed_in());
    };
    let session = Session::decode(&record.data.type_url, &record.data.value)
        .map_err(|e| Failure::Internal(format!("session record: {e}")))?;
    if session.is_expired(SystemTime::now()) {
        return Ok(not_signed_in());
    }
    let user = match storage
        .get(User::TYPE, &session.user_id)
        .await
        .map_err(unavailable)?
    {
        Some(r) => User::decode(&r.data.type_url, &r.data.value)
            .map_err(|e| Failure::Internal(format!("user record: {e}")))?,
        None => User {
            id: session.user_id.clone(),
            ..User::default()
        },
    };
    let csrf = call.snapshot.csrf.token(token.unwrap_or(""));
    let row =
        |k: &str, v: &str| format!("<tr><th align=\"left\">{k}</th><td>{}</td></tr>", escape(v));
    let content = format!(
        "<table>{}{}{}{}{}</table>{}",
        row("Email", &user.email),
        row("Name", &user.name),
        row("User", &user.id),
        row("Groups", &user.groups.join(", ")),
        row("Session expires", &utc(session.expires_at)),
        sign_out::form(&csrf, "", ""),
    );
    Ok(page::html(StatusCode::OK, "Signed in", &content))
}

fn not_signed_in() -> Response<ProxyBody> {
    page::html(
        StatusCode::UNAUTHORIZED,
        "Not signed in",
        "<p>You are not signed in on this site.</p>",
    )
}

/// `YYYY-MM-DD hh:mm:ss UTC`.
fn utc(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil from days (H. Hinnant), for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(utc(t), "2024-02-29 12:34:56 UTC");
    }
}
