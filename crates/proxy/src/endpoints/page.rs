//! Small HTML pages and redirects of the endpoints. Everything interpolated is escaped.

use http::{HeaderValue, Response, StatusCode, header};

use crate::{ProxyBody, body};
pub(super) use portcullis_proto::html::escape;

/// An HTML page: `status`, a `title` and an already-escaped `content`.
pub(super) fn html(status: StatusCode, title: &str, content: &str) -> Response<ProxyBody> {
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:2em auto\">\
         <h1>{title}</h1>\n{content}\n</body></html>\n",
        title = escape(title),
    );
    let mut response = Response::new(body::full(page));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in portcullis_proto::html::SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `302` to `location`, not cached.
pub(super) fn redirect(location: &str) -> Response<ProxyBody> {
    let mut response = Response::new(body::empty());
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping() {
        assert_eq!(
            super::escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
