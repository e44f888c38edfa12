use url::Url;

use super::*;
use crate::DevClient;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn idp() -> DevIdp {
    let client = DevClient {
        id: "app".into(),
        secret: "s".into(),
        redirect_uris: vec!["http://app/cb".into()],
        post_logout_redirect_uris: vec![],
    };
    DevIdp::new(Url::parse("http://idp").unwrap(), vec![client])
}

fn query(extra: &str) -> String {
    format!(
        "client_id=app&redirect_uri=http%3A%2F%2Fapp%2Fcb&response_type=code&scope=openid+email+openid\
         &state=st&nonce=no&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
    )
}

fn check(query: &str) -> Result<AuthRequest, AuthorizeError> {
    validate(&idp(), &Params::parse(query.as_bytes()))
}

fn redirect_error(query: &str) -> &'static str {
    match check(query) {
        Err(AuthorizeError::Redirect { error, state, .. }) => {
            assert_eq!(state.as_deref(), Some("st"), "the state goes back");
            error
        }
        other => panic!("expected an error redirect, got {other:?}"),
    }
}

#[test]
fn a_good_request_keeps_state_nonce_scopes_and_challenge() {
    let request = check(&query("")).unwrap();
    assert_eq!(request.client_id, "app");
    assert_eq!(request.redirect_uri, "http://app/cb");
    assert_eq!(request.state.as_deref(), Some("st"));
    assert_eq!(request.nonce.as_deref(), Some("no"));
    assert_eq!(request.scopes, ["openid", "email"]);
    assert_eq!(request.code_challenge, CHALLENGE);
}

#[test]
fn unknown_clients_and_redirect_uris_get_a_page_never_a_redirect() {
    let cases = [
        query("").replace("client_id=app", "client_id=evil"),
        query("").replace("client_id=app&", ""),
        query("").replace("app%2Fcb", "evil%2Fcb"),
        query("").replace("app%2Fcb", "app%2Fcb%2F"),
        query("").replace("redirect_uri=http%3A%2F%2Fapp%2Fcb&", ""),
        query("&redirect_uri=http%3A%2F%2Fapp%2Fcb"),
        query("&client_id=app"),
    ];
    for case in cases {
        assert!(
            matches!(check(&case), Err(AuthorizeError::Page { .. })),
            "{case}"
        );
    }
}

#[test]
fn protocol_errors_go_back_to_the_client() {
    let q = query("");
    assert_eq!(
        redirect_error(&q.replace("response_type=code", "response_type=token")),
        "unsupported_response_type"
    );
    assert_eq!(
        redirect_error(&q.replace("response_type=code&", "")),
        "invalid_request"
    );
    assert_eq!(
        redirect_error(&q.replace("scope=openid+email+openid", "scope=email")),
        "invalid_scope"
    );
    assert_eq!(
        redirect_error(&q.replace("code_challenge_method=S256", "code_challenge_method=plain")),
        "invalid_request"
    );
    let no_pkce = q.replace(
        &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"),
        "",
    );
    assert_eq!(redirect_error(&no_pkce), "invalid_request");
    assert_eq!(
        redirect_error(&q.replace(CHALLENGE, "short")),
        "invalid_request"
    );
    assert_eq!(redirect_error(&query("&nonce=again")), "invalid_request");
    assert_eq!(redirect_error(&query("&prompt=none")), "login_required");
    assert_eq!(
        redirect_error(&query("&request=x")),
        "request_not_supported"
    );
    let long = q.replace("&nonce=no", &format!("&nonce={}", "x".repeat(3000)));
    assert_eq!(redirect_error(&long), "invalid_request");
}
