//! The authenticate host's HTML pages: small, no scripts, every value escaped.

use std::time::SystemTime;

use axum::http::StatusCode;
use axum::response::Html;
pub(crate) use portcullis_proto::html::escape;

/// The path the sign-out form posts to.
const SIGN_OUT: &str = "/.portcullis/sign_out";

/// What the user page shows.
#[derive(Debug)]
pub(crate) struct UserView<'a> {
    pub(crate) user_id: &'a str,
    pub(crate) email: &'a str,
    pub(crate) name: &'a str,
    pub(crate) groups: &'a [String],
    pub(crate) expires_at: SystemTime,
}

/// A page that says what happened (errors, notices).
pub(crate) fn message(status: StatusCode, text: &str, extra: &str) -> Html<String> {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    );
    let mut body = format!("<h1>{}</h1><p>{}</p>", escape(&title), escape(text));
    if !extra.is_empty() {
        body.push_str(&format!("<p>{}</p>", escape(extra)));
    }
    layout(&title, &body)
}

/// `/.portcullis/`: who you are, and a sign-out button.
pub(crate) fn user(view: &UserView<'_>, sign_out_token: &str) -> Html<String> {
    let groups = if view.groups.is_empty() {
        "none".to_owned()
    } else {
        view.groups
            .iter()
            .map(|g| escape(g))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let body = format!(
        "<h1>Signed in</h1><dl>\
         <dt>Email</dt><dd id=\"email\">{}</dd>\
         <dt>Name</dt><dd id=\"name\">{}</dd>\
         <dt>User id</dt><dd id=\"user\">{}</dd>\
         <dt>Groups</dt><dd id=\"groups\">{groups}</dd>\
         <dt>Session expires</dt><dd id=\"expires\">{}</dd></dl>{}",
        escape(view.email),
        escape(view.name),
        escape(view.user_id),
        http_date(view.expires_at),
        sign_out_form(sign_out_token),
    );
    layout("Signed in", &body)
}

/// `/.portcullis/` without a session.
pub(crate) fn not_signed_in() -> Html<String> {
    layout(
        "Not signed in",
        "<h1>Not signed in</h1><p>Open an application to sign in.</p>",
    )
}

/// `GET /.portcullis/sign_out`: confirm before signing out.
pub(crate) fn confirm_sign_out(token: &str) -> Html<String> {
    let body = format!(
        "<h1>Sign out?</h1><p>This ends your session in every application of this cluster.</p>{}",
        sign_out_form(token)
    );
    layout("Sign out", &body)
}

/// `/.portcullis/signed_out`.
pub(crate) fn signed_out() -> Html<String> {
    layout(
        "Signed out",
        "<h1>Signed out</h1><p>You are signed out.</p>",
    )
}

fn sign_out_form(token: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{SIGN_OUT}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\">Sign out</button></form>",
        escape(token)
    )
}

fn layout(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title></head><body>{body}</body></html>\n",
        escape(title)
    ))
}

/// `2024-05-01 12:00:00 UTC`.
fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_and_escaping() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_800);
        assert_eq!(http_date(t), "2024-05-01 12:00:00 UTC");
        assert_eq!(http_date(SystemTime::UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let page = message(StatusCode::BAD_REQUEST, "<x>", "a\"b").0;
        assert!(page.contains("&lt;x&gt;") && page.contains("a&quot;b"));
        assert!(!page.contains("<x>"));
    }
}
