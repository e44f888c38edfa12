//! `/.portcullis/api/v1/login?redirect_uri=<loopback URL>`: for command-line clients. Returns
//! (as text) a signed URL to authenticate's sign-in with `programmatic=true`; after login,
//! authenticate redirects to the loopback `redirect_uri` with a session token the client then
//! sends as `Authorization: Bearer Portcullis-<token>`. Only `http://` loopback redirect URLs
//! (`localhost`, `127.0.0.0/8`, `[::1]`) are accepted: a token must never go to another host.

use std::time::{Duration, SystemTime};

use http::{HeaderValue, Response, header};
use url::{Host, Url};

use super::Call;
use crate::rescue::Failure;
use crate::{ProxyBody, body};

/// How long the login URL stays valid.
const VALID_FOR: Duration = Duration::from_secs(5 * 60);

pub(super) fn serve(call: &Call<'_>) -> Result<Response<ProxyBody>, Failure> {
    let redirect = call
        .target
        .query
        .as_deref()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "redirect_uri")
                .map(|(_, v)| v.into_owned())
        })
        .ok_or(Failure::BadRequest("redirect_uri is required"))?;
    let redirect = Url::parse(&redirect)
        .ok()
        .filter(is_loopback)
        .ok_or(Failure::BadRequest(
            "redirect_uri must be an http:// URL on localhost or a loopback address",
        ))?;
    let mut url = call
        .snapshot
        .authenticate_url
        .join("/.portcullis/sign_in")
        .map_err(|e| Failure::Internal(format!("authenticate sign-in URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("redirect_uri", redirect.as_str())
        .append_pair("programmatic", "true");
    let signed = call.snapshot.signer.sign(url, SystemTime::now(), VALID_FOR);
    let mut response = Response::new(body::full(String::from(signed)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn is_loopback(url: &Url) -> bool {
    url.scheme() == "http"
        && url.username().is_empty()
        && match url.host() {
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_loopback_redirects() {
        let ok = |u: &str| is_loopback(&Url::parse(u).unwrap());
        assert!(ok("http://127.0.0.1:8000/cb"));
        assert!(ok("http://localhost:1234/"));
        assert!(ok("http://[::1]:9/x"));
        assert!(ok("http://127.1.2.3/"));
        assert!(!ok("https://127.0.0.1/"));
        assert!(!ok("http://evil.example.com/"));
        assert!(!ok("http://localhost.evil.example.com/"));
        assert!(!ok("http://user@127.0.0.1/"));
        assert!(!ok("http://10.0.0.1/"));
    }
}
