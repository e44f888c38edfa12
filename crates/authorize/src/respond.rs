//! The one place that turns a [`Denial`] into the response the client gets.
//!
//! | cause | browser (`Accept: text/html`) | gRPC client | anything else |
//! |---|---|---|---|
//! | unauthenticated | `302` to the signed sign-in URL | `401`, `grpc-status: 16` | `401` JSON |
//! | forbidden | `403` page with request id and reasons | `403`, `grpc-status: 7` | `403` JSON |
//! | no route | `404` | `grpc-status: 5` | `404` JSON |
//! | unavailable | `503` | `grpc-status: 14` | `503` JSON |
//! | internal | `500` | `grpc-status: 13` | `500` JSON |

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use portcullis_grpc::UrlSigner;
use portcullis_proto::{AuthorizeRequest, Deny};
use url::Url;

use crate::credential::{is_grpc, wants_html};
use crate::error::Denial;
use portcullis_proto::html::ErrorPage;

/// How long a sign-in redirect stays valid.
const SIGN_IN_VALID_FOR: Duration = Duration::from_secs(5 * 60);

/// Builds deny responses.
#[derive(Debug)]
pub(crate) struct Responder {
    /// `show_error_details`: deny pages list the policy reasons (reloadable).
    show_details: AtomicBool,
    /// `<authenticate_service_url>/.portcullis/sign_in`; `None` when not configured (then
    /// browsers get a `401` too).
    sign_in: Option<Url>,
    signer: UrlSigner,
}

// === impl Responder ===

impl Responder {
    pub(crate) fn new(authenticate_service_url: Option<&Url>, shared_secret: &[u8; 32]) -> Self {
        Responder {
            show_details: AtomicBool::new(false),
            sign_in: authenticate_service_url.and_then(|u| u.join("/.portcullis/sign_in").ok()),
            signer: UrlSigner::new(shared_secret),
        }
    }

    /// Sets `show_error_details`.
    pub(crate) fn show_details(&self, show: bool) {
        self.show_details.store(show, Ordering::Relaxed);
    }

    /// The response for `denial` of `request`.
    pub(crate) fn deny(
        &self,
        denial: Denial,
        request: &AuthorizeRequest,
        reasons: Vec<String>,
        now: SystemTime,
    ) -> Deny {
        let mut headers = vec![("cache-control".to_owned(), "no-store".to_owned())];
        if is_grpc(request) {
            headers.extend([
                ("content-type".to_owned(), "application/grpc".to_owned()),
                ("grpc-status".to_owned(), denial.grpc_status().to_string()),
                (
                    "grpc-message".to_owned(),
                    denial.message().replace(' ', "%20"),
                ),
            ]);
            return Deny {
                status: denial.status(),
                headers,
                body: String::new(),
                reasons,
            };
        }
        let html = wants_html(request);
        if denial == Denial::Unauthenticated
            && html
            && let Some(location) = self.sign_in_url(request, now)
        {
            headers.push(("location".to_owned(), location));
            return Deny {
                status: 302,
                headers,
                body: String::new(),
                reasons,
            };
        }
        headers.extend(
            portcullis_proto::html::SECURITY_HEADERS
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        let page = ErrorPage {
            status: denial.status(),
            title: denial.name(),
            message: denial.message(),
            request_id: &request.request_id,
            reasons: self
                .show_details
                .load(Ordering::Relaxed)
                .then_some(&reasons[..]),
        };
        let body = if html {
            headers.push((
                "content-type".to_owned(),
                "text/html; charset=utf-8".to_owned(),
            ));
            page.html()
        } else {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
            page.json()
        };
        Deny {
            status: denial.status(),
            headers,
            body,
            reasons,
        }
    }

    /// `<authenticate>/.portcullis/sign_in?redirect_uri=<original URL>`, signed.
    fn sign_in_url(&self, request: &AuthorizeRequest, now: SystemTime) -> Option<String> {
        let mut url = self.sign_in.clone()?;
        url.query_pairs_mut()
            .append_pair("redirect_uri", &request.url());
        Some(self.signer.sign(url, now, SIGN_IN_VALID_FOR).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(accept: &str) -> AuthorizeRequest {
        AuthorizeRequest {
            request_id: "<script>".into(),
            scheme: "https".into(),
            host: "app.example.com".into(),
            path: "/x".into(),
            query: "a=1".into(),
            headers: vec![("accept".into(), accept.into())],
            ..AuthorizeRequest::default()
        }
    }

    #[test]
    fn browsers_are_sent_to_a_signed_sign_in_url() {
        let auth = Url::parse("https://auth.example.com").unwrap();
        let responder = Responder::new(Some(&auth), &[1; 32]);
        let now = SystemTime::now();
        let deny = responder.deny(Denial::Unauthenticated, &request("text/html"), vec![], now);
        assert_eq!(deny.status, 302);
        let location = Url::parse(deny.header("location").unwrap()).unwrap();
        let clean = UrlSigner::new(&[1; 32]).verify(&location, now).unwrap();
        assert_eq!(
            clean.as_str(),
            "https://auth.example.com/.portcullis/sign_in?redirect_uri=https%3A%2F%2Fapp.example.com%2Fx%3Fa%3D1"
        );
        let api = responder.deny(Denial::Unauthenticated, &request("*/*"), vec![], now);
        assert_eq!(api.status, 401);
        assert!(api.body.contains("\"unauthenticated\""));
    }

    #[test]
    fn the_403_page_escapes_what_the_client_sent() {
        let responder = Responder::new(None, &[1; 32]);
        let hidden = responder.deny(
            Denial::Forbidden,
            &request("text/html"),
            vec!["email-unauthorized".into()],
            SystemTime::now(),
        );
        assert!(
            !hidden.body.contains("email-unauthorized"),
            "reasons need show_error_details"
        );
        assert_eq!(hidden.header("x-frame-options"), Some("DENY"));
        responder.show_details(true);
        let deny = responder.deny(
            Denial::Forbidden,
            &request("text/html"),
            vec!["email-unauthorized".into()],
            SystemTime::now(),
        );
        assert_eq!(deny.status, 403);
        assert!(deny.body.contains("&lt;script&gt;") && !deny.body.contains("<script>"));
        assert!(deny.body.contains("email-unauthorized"));
    }
}
