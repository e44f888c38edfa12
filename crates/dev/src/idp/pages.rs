//! The provider's HTML: the login form, error pages, the signed-out page. Everything that
//! came from a request is escaped.

use axum::http::StatusCode;
use axum::response::Response;

use crate::html::{escape, page, respond};

const BANNER: &str = "<div class=\"banner\" role=\"alert\"><strong>Development identity \
    provider.</strong> It signs in <em>anyone</em> with <em>any</em> email address, for \
    trying portcullis out. Never use it in production.</div>";

/// What the login form shows and carries.
#[derive(Debug)]
pub(super) struct LoginForm<'a> {
    /// Where the form posts to (the authorize endpoint's path).
    pub(super) action: &'a str,
    /// The pending request's opaque id.
    pub(super) request_id: &'a str,
    pub(super) client_id: &'a str,
    pub(super) redirect_uri: &'a str,
    pub(super) scopes: &'a [String],
    /// Values typed before, when the form is shown again.
    pub(super) email: &'a str,
    pub(super) groups: &'a str,
    /// Why the last attempt was refused.
    pub(super) error: Option<&'a str>,
}

/// The login form (`200`, or `400` when shown again with an error).
pub(super) fn login(form: &LoginForm<'_>) -> Response {
    let error = form
        .error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "{BANNER}\n<h1>Sign in</h1>\n\
         <p>to <strong>{client}</strong>, which will receive your identity at \
         <code>{redirect}</code> (scopes: <code>{scopes}</code>).</p>\n{error}\n\
         <form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"request_id\" value=\"{request_id}\">\n\
         <label for=\"email\">Email (any address works)</label>\n\
         <input type=\"email\" id=\"email\" name=\"email\" value=\"{email}\" required autofocus \
         autocomplete=\"email\" placeholder=\"alice@example.com\">\n\
         <label for=\"groups\">Groups (optional, comma-separated)</label>\n\
         <input type=\"text\" id=\"groups\" name=\"groups\" value=\"{groups}\" \
         placeholder=\"admins, developers\">\n\
         <button type=\"submit\" name=\"action\" value=\"sign_in\">Sign in</button>\
         <button type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate>Cancel</button>\n\
         </form>",
        client = escape(form.client_id),
        redirect = escape(form.redirect_uri),
        scopes = escape(&form.scopes.join(" ")),
        action = escape(form.action),
        request_id = escape(form.request_id),
        email = escape(form.email),
        groups = escape(form.groups),
    );
    let status = match form.error {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    respond(
        status,
        page("Sign in · development identity provider", &body),
    )
}

/// A `400` page for a request that cannot be answered with a redirect.
pub(super) fn error(title: &str, detail: &str) -> Response {
    error_with(StatusCode::BAD_REQUEST, title, detail)
}

/// An error page with `status`.
pub(super) fn error_with(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "{BANNER}\n<h1>{title}</h1>\n<p class=\"error\">{detail}</p>",
        title = escape(title),
        detail = escape(detail),
    );
    respond(status, page(title, &body))
}

/// The page end-session shows when it has nowhere to send the browser.
pub(super) fn signed_out() -> Response {
    let body = format!(
        "{BANNER}\n<h1>Signed out</h1>\n<p>You are signed out of the development identity \
         provider. You can close this page.</p>"
    );
    respond(StatusCode::OK, page("Signed out", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_form_escapes_what_the_request_said() {
        let scopes = ["openid".to_string(), "<x>".to_string()];
        let form = LoginForm {
            action: "/authorize",
            request_id: "id\"><script>",
            client_id: "<b>app</b>",
            redirect_uri: "http://app/cb?a=1&b=2",
            scopes: &scopes,
            email: "\"onfocus=\"alert(1)",
            groups: "",
            error: Some("<i>bad</i>"),
        };
        let response = login(&form);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let html = text(response).await;
        assert!(html.contains("Development identity"));
        assert!(!html.contains("<script>") && !html.contains("<b>app</b>"));
        assert!(!html.contains("<i>bad</i>") && !html.contains("<x>"));
        assert!(html.contains("value=\"&quot;onfocus=&quot;alert(1)\""));
        assert!(html.contains("a=1&amp;b=2"));
    }
}
