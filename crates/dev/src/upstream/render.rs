//! The demo upstream's answers: an HTML page (everything escaped) or JSON.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Seen;
use super::jwt::Decoded;
use crate::html::{escape, page, respond};

const NOT_VERIFIED: &str = "decoded only, NOT verified here: an application must verify the \
    signature against /.well-known/portcullis/jwks.json before trusting any claim";

/// The page.
pub(super) fn html(seen: &Seen) -> Response {
    let who = match &seen.email {
        Some(email) => format!(
            "<p>Signed in as</p><p class=\"email\" id=\"email\">{}</p>",
            escape(email)
        ),
        None => "<p class=\"error\">No identity: this request carried no \
                 <code>X-Portcullis-Jwt-Assertion</code> with an email, nor an \
                 <code>X-Portcullis-Claim-Email</code> header.</p>"
            .to_owned(),
    };
    let rows: String = seen
        .identity
        .iter()
        .map(|(name, value)| {
            format!(
                "<tr><th><code>{}</code></th><td><code>{}</code></td></tr>\n",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let headers = if rows.is_empty() {
        "<p>None.</p>".to_owned()
    } else {
        format!("<table>\n{rows}</table>")
    };
    let jwt = match &seen.jwt {
        None => "<p>No <code>X-Portcullis-Jwt-Assertion</code> header.</p>".to_owned(),
        Some(Decoded::Malformed(error)) => format!(
            "<p class=\"error\">The assertion cannot be decoded: {}.</p>",
            escape(&error.to_string())
        ),
        Some(Decoded::Parts { header, claims }) => format!(
            "<p class=\"banner\"><strong>Not verified:</strong> {not}.</p>\n\
             <h3>Header</h3><pre><code>{header}</code></pre>\n\
             <h3>Claims</h3><pre><code>{claims}</code></pre>",
            not = escape(NOT_VERIFIED),
            header = escape(&pretty(header)),
            claims = escape(&pretty(claims)),
        ),
    };
    let body = format!(
        "<h1>Portcullis demo upstream</h1>\n{who}\n\
         <p>Request: <code>{method} {target}</code> (host <code>{host}</code>)</p>\n\
         <h2>Identity headers</h2>\n{headers}\n<h2>Identity JWT</h2>\n{jwt}",
        method = escape(&seen.method),
        target = escape(&seen.target),
        host = escape(seen.host.as_deref().unwrap_or("-")),
    );
    respond(StatusCode::OK, page("Portcullis demo upstream", &body))
}

/// The same as JSON.
pub(super) fn json(seen: &Seen) -> Response {
    let mut headers = Map::new();
    for (name, value) in &seen.identity {
        match headers.get_mut(name) {
            // Repeated headers are joined, as HTTP allows.
            Some(Value::String(joined)) => {
                joined.push_str(", ");
                joined.push_str(value);
            }
            _ => {
                headers.insert(name.clone(), Value::String(value.clone()));
            }
        }
    }
    let jwt = match &seen.jwt {
        None => Value::Null,
        Some(Decoded::Malformed(error)) => json!({"error": error.to_string(), "verified": false}),
        Some(Decoded::Parts { header, claims }) => json!({
            "verified": false,
            "note": NOT_VERIFIED,
            "header": header,
            "claims": claims,
        }),
    };
    let body = json!({
        "email": seen.email,
        "method": seen.method,
        "path": seen.target,
        "host": seen.host,
        "identity_headers": headers,
        "jwt": jwt,
    });
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn pretty(map: &Map<String, Value>) -> String {
    serde_json::to_string_pretty(map).unwrap_or_default()
}
