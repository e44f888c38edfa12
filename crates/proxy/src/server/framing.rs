//! Requests whose framing or host is ambiguous are refused at the listener, before any
//! service sees them (request smuggling, RFC 9112 §6.1 and §3.2).
//!
//! hyper already refuses obsolete line folding, bad chunk sizes and conflicting
//! `Content-Length` values. It *accepts* `Transfer-Encoding` together with `Content-Length`
//! (framing by the former, as RFC 9112 allows); a front end or upstream that frames by the
//! latter would then see a different request boundary, so portcullis refuses the combination
//! outright, as it refuses any transfer coding but a lone `chunked` and more than one `Host`
//! line. The answer is `400` with `Connection: close`: nothing after it on the connection is
//! read as a request.

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Version, header};

use crate::{ProxyBody, body};

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ambiguous {
    /// `Transfer-Encoding` and `Content-Length` both present.
    LengthAndEncoding,
    /// A transfer coding other than one `chunked`.
    TransferCoding,
    /// More than one `Content-Length` line, or a list of lengths.
    Length,
    /// More than one `Host` line.
    Host,
}

impl Ambiguous {
    fn message(self) -> &'static str {
        match self {
            Ambiguous::LengthAndEncoding => "both Transfer-Encoding and Content-Length",
            Ambiguous::TransferCoding => "a Transfer-Encoding other than chunked",
            Ambiguous::Length => "more than one Content-Length",
            Ambiguous::Host => "more than one Host",
        }
    }
}

/// The reason `request` must be refused, if any. HTTP/2 and HTTP/3 frame by themselves
/// (hyper refuses `Transfer-Encoding` there), so only HTTP/1.x heads are checked.
pub(crate) fn check<B>(request: &Request<B>) -> Option<Ambiguous> {
    if request.version() > Version::HTTP_11 {
        return None;
    }
    check_headers(request.headers())
}

fn check_headers(headers: &HeaderMap) -> Option<Ambiguous> {
    let codings: Vec<&HeaderValue> = headers.get_all(header::TRANSFER_ENCODING).iter().collect();
    let lengths: Vec<&HeaderValue> = headers.get_all(header::CONTENT_LENGTH).iter().collect();
    if !codings.is_empty() && !lengths.is_empty() {
        return Some(Ambiguous::LengthAndEncoding);
    }
    if !codings.is_empty() {
        let chunked = codings.len() == 1
            && codings[0]
                .to_str()
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        if !chunked {
            return Some(Ambiguous::TransferCoding);
        }
    }
    if lengths.len() > 1 || lengths.iter().any(|v| v.as_bytes().contains(&b',')) {
        return Some(Ambiguous::Length);
    }
    if headers.get_all(header::HOST).iter().count() > 1 {
        return Some(Ambiguous::Host);
    }
    None
}

/// `400` naming the problem, closing the connection.
pub(crate) fn refuse(reason: Ambiguous) -> Response<ProxyBody> {
    let mut response = Response::new(body::full(format!(
        "400 Bad Request: {}\n",
        reason.message()
    )));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_pairs(pairs: &[(&str, &str)]) -> Option<Ambiguous> {
        let mut builder = Request::post("/");
        for (k, v) in pairs {
            builder = builder.header(*k, *v);
        }
        check(&builder.body(()).unwrap())
    }

    #[test]
    fn ambiguous_framing_and_hosts_are_named() {
        use Ambiguous::*;
        assert_eq!(check_pairs(&[("host", "a"), ("content-length", "3")]), None);
        assert_eq!(check_pairs(&[("transfer-encoding", "Chunked ")]), None);
        let cases: [(&[(&str, &str)], Ambiguous); 7] = [
            (
                &[("transfer-encoding", "chunked"), ("content-length", "3")],
                LengthAndEncoding,
            ),
            (
                &[("transfer-encoding", "chunked, identity")],
                TransferCoding,
            ),
            (&[("transfer-encoding", "identity")], TransferCoding),
            (
                &[
                    ("transfer-encoding", "chunked"),
                    ("transfer-encoding", "chunked"),
                ],
                TransferCoding,
            ),
            (&[("content-length", "3"), ("content-length", "3")], Length),
            (&[("content-length", "3, 3")], Length),
            (&[("host", "a"), ("host", "b")], Host),
        ];
        for (pairs, reason) in cases {
            assert_eq!(check_pairs(pairs), Some(reason), "{pairs:?}");
        }
        let mut h2 = Request::post("/")
            .header("host", "a")
            .header("host", "b")
            .body(())
            .unwrap();
        *h2.version_mut() = Version::HTTP_2;
        assert_eq!(check(&h2), None, "HTTP/2 frames itself");
        assert_eq!(refuse(Host).status(), StatusCode::BAD_REQUEST);
        assert_eq!(refuse(Host).headers()["connection"], "close");
    }
}
