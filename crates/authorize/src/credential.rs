//! Finding the session handle in a request, and what kind of client sent it.
//!
//! A handle arrives in one of three places (design §4), looked at in this order:
//! `X-Portcullis-Authorization: [Bearer ][Portcullis-]<token>`,
//! `Authorization: Bearer Portcullis-<token>`, or the `cookie_name` cookie.

use portcullis_proto::AuthorizeRequest;

/// The header carrying a Portcullis credential only.
pub(crate) const PORTCULLIS_AUTHORIZATION: &str = "x-portcullis-authorization";
/// The prefix of a Portcullis bearer token in `Authorization`.
const BEARER_PREFIX: &str = "Bearer Portcullis-";

/// The sealed session handle the request carries, if any.
pub(crate) fn session_token<'a>(
    request: &'a AuthorizeRequest,
    cookie_name: &str,
) -> Option<&'a str> {
    if let Some(value) = request.header(PORTCULLIS_AUTHORIZATION) {
        let value = value.trim();
        let value = value.strip_prefix("Bearer ").unwrap_or(value).trim_start();
        let value = value.strip_prefix("Portcullis-").unwrap_or(value);
        if !value.is_empty() {
            return Some(value);
        }
    }
    if let Some(token) = request
        .header_values("authorization")
        .find_map(|v| v.trim().strip_prefix(BEARER_PREFIX))
    {
        return Some(token.trim());
    }
    request
        .header_values("cookie")
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == cookie_name).then(|| value.trim_matches('"'))
        })
        .filter(|v| !v.is_empty())
}

/// True when `Authorization` carries a Portcullis bearer (and must not reach the upstream).
pub(crate) fn is_portcullis_bearer(value: &str) -> bool {
    value.trim().starts_with(BEARER_PREFIX)
}

/// The `Cookie` header without the session cookie: `None` when it carried no session cookie,
/// `Some("")` when nothing else is left.
pub(crate) fn cookies_without(request: &AuthorizeRequest, cookie_name: &str) -> Option<String> {
    let mut found = false;
    let mut rest: Vec<&str> = Vec::new();
    for pair in request.header_values("cookie").flat_map(|v| v.split(';')) {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        if pair
            .split_once('=')
            .is_some_and(|(name, _)| name == cookie_name)
        {
            found = true;
        } else {
            rest.push(pair);
        }
    }
    found.then(|| rest.join("; "))
}

/// The client negotiates HTML (`Accept` names `text/html` with q > 0; `*/*` alone does not):
/// a browser, which gets a redirect to sign in rather than a 401.
pub(crate) fn wants_html(request: &AuthorizeRequest) -> bool {
    request
        .header_values("accept")
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim();
            let html = media.eq_ignore_ascii_case("text/html")
                || media.eq_ignore_ascii_case("application/xhtml+xml");
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            html && q > 0.0
        })
}

/// A gRPC client (`content-type: application/grpc*`): it reads `grpc-status`.
pub(crate) fn is_grpc(request: &AuthorizeRequest) -> bool {
    request
        .header("content-type")
        .is_some_and(|v| v.trim_start().starts_with("application/grpc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> AuthorizeRequest {
        AuthorizeRequest {
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..AuthorizeRequest::default()
        }
    }

    #[test]
    fn tokens_come_from_the_three_places_in_order() {
        let r = request(&[("cookie", "a=1; _portcullis=C; b=2")]);
        assert_eq!(session_token(&r, "_portcullis"), Some("C"));
        let r = request(&[
            ("cookie", "_portcullis=C"),
            ("authorization", "Bearer Portcullis-B"),
        ]);
        assert_eq!(session_token(&r, "_portcullis"), Some("B"));
        let r = request(&[
            ("authorization", "Bearer Portcullis-B"),
            ("x-portcullis-authorization", "Bearer Portcullis-X"),
        ]);
        assert_eq!(session_token(&r, "_portcullis"), Some("X"));
        let r = request(&[("authorization", "Bearer other"), ("cookie", "x=1")]);
        assert_eq!(session_token(&r, "_portcullis"), None);
    }

    #[test]
    fn the_session_cookie_is_cut_out_of_cookie() {
        let r = request(&[("cookie", "a=1; _portcullis=C"), ("cookie", "b=2")]);
        assert_eq!(
            cookies_without(&r, "_portcullis").as_deref(),
            Some("a=1; b=2")
        );
        let r = request(&[("cookie", "_portcullis=C")]);
        assert_eq!(cookies_without(&r, "_portcullis").as_deref(), Some(""));
        let r = request(&[("cookie", "a=1")]);
        assert_eq!(cookies_without(&r, "_portcullis"), None);
    }

    #[test]
    fn html_is_negotiated_not_assumed() {
        let html = |accept| wants_html(&request(&[("accept", accept)]));
        assert!(html("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(!html("*/*"));
        assert!(!html("application/json"));
        assert!(!html("text/html;q=0, application/json"));
        assert!(!wants_html(&request(&[])));
        assert!(is_grpc(&request(&[(
            "content-type",
            "application/grpc+proto"
        )])));
    }
}
