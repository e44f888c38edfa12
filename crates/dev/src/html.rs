//! Small HTML pages: escaping, one layout, and the headers every page carries.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Text made safe to place in HTML element content and in quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` is text (escaped here), `body` is HTML (the caller escaped its parts).
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body><main>\n{body}\n</main></body></html>\n",
        title = escape(title),
    )
}

/// `page` as a response: no caching, no framing, no scripts, no referrer.
pub(crate) fn respond(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}\
main{max-width:46rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;\
box-shadow:0 1px 4px #0002}\
.banner{background:#fff3cd;border:1px solid #e0b400;padding:.75rem 1rem;border-radius:6px;margin-bottom:1rem}\
.error{background:#fde2e1;border:1px solid #d93025;padding:.75rem 1rem;border-radius:6px}\
.email{font-size:1.6rem;font-weight:600}\
label{display:block;margin:.75rem 0 .25rem}input[type=email],input[type=text]{width:100%;\
padding:.5rem;font-size:1rem;box-sizing:border-box}button{margin-top:1rem;margin-right:.5rem;\
padding:.5rem 1.25rem;font-size:1rem}table{border-collapse:collapse;width:100%}\
td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top;\
word-break:break-all}pre{background:#f4f5f7;padding:.75rem;overflow-x:auto}code{font-size:.9rem}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_and_attribute_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn page_escapes_its_title() {
        let html = page("<b>", "<p>ok</p>");
        assert!(html.contains("<title>&lt;b&gt;</title>"));
        assert!(html.contains("<p>ok</p>"));
    }
}
