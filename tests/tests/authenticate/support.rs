//! Shared setup for the authenticate tests: a real OpenID provider (node `oidc-provider`),
//! the authenticate router served on 127.0.0.1:0 over a memory or PostgreSQL databroker,
//! sign-in URLs signed the way route hosts sign them, and a "browser" (reqwest with a cookie
//! store, redirects off) that walks the login hop by hop, filling in the IdP's forms.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use portcullis_authenticate::Authenticate;
use portcullis_databroker::Storage;
use portcullis_databroker::storage::memory::Memory;
use portcullis_grpc::{HandoffCodec, SessionHandle, SessionHandleCodec, UrlSigner};
use portcullis_proto::{Session, User};
use portcullis_testing::oidc::{Client, OidcProvider, Settings};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use url::Url;

pub const SHARED_SECRET: [u8; 32] = [42; 32];
pub const SHARED_SECRET_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
pub const COOKIE_SECRET: [u8; 32] = [7; 32];
pub const COOKIE_SECRET_B64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
pub const CLIENT_ID: &str = "portcullis";
pub const CLIENT_SECRET: &str = "portcullis-client-secret";
/// A route host logins may return to.
pub const APP: &str = "https://app.example.com";

/// Which databroker storage to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Memory,
    Postgres,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    pub store: Store,
    pub access_token_ttl: Option<Duration>,
    /// Extra top-level YAML.
    pub extra: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            store: Store::Memory,
            access_token_ttl: None,
            extra: String::new(),
        }
    }
}

/// A running authenticate host and its IdP.
pub struct Env {
    pub provider: OidcProvider,
    pub storage: Arc<dyn Storage>,
    pub auth: Arc<Authenticate>,
    pub config: portcullis_config::Config,
    /// `authenticate_service_url`: `http://127.0.0.1:<port>`.
    pub base: Url,
    _database: Option<portcullis_testing::postgres::Database>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts the IdP and an authenticate host (not its refresh manager).
pub async fn start(options: Options) -> Env {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let client = Client {
        id: CLIENT_ID.into(),
        secret: CLIENT_SECRET.into(),
        redirect_uris: vec![base.join("/oauth2/callback").unwrap().to_string()],
        post_logout_redirect_uris: vec![base.join("/.portcullis/signed_out").unwrap().to_string()],
    };
    let settings = Settings {
        access_token_ttl: options.access_token_ttl,
    };
    let provider = tokio::task::spawn_blocking(move || {
        OidcProvider::start_with(&[client], &[("alice", &["admins", "staff"])], &settings)
    })
    .await
    .unwrap()
    .expect("the OpenID provider starts (run scripts/setup)");
    let config = config(&base, provider.issuer(), &options.extra);
    let (storage, database): (Arc<dyn Storage>, _) = match options.store {
        Store::Memory => (Arc::new(Memory::new()), None),
        Store::Postgres => {
            let database = tokio::task::spawn_blocking(portcullis_testing::postgres::database)
                .await
                .unwrap()
                .expect("a PostgreSQL database");
            let storage = portcullis_databroker::storage::postgres::Postgres::connect(
                database.connection_string(),
            )
            .await
            .expect("connect to PostgreSQL");
            (Arc::new(storage), Some(database))
        }
    };
    let auth = Arc::new(Authenticate::new(&config, Arc::clone(&storage)).unwrap());
    let router = auth.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Env {
        provider,
        storage,
        auth,
        config,
        base,
        _database: database,
        server,
    }
}

fn config(base: &Url, issuer: &str, extra: &str) -> portcullis_config::Config {
    let yaml = format!(
        "services: authenticate,databroker\n\
         address: 127.0.0.1:0\n\
         insecure_server: true\n\
         shared_secret: {SHARED_SECRET_B64}\n\
         cookie_secret: {COOKIE_SECRET_B64}\n\
         authenticate_service_url: {base}\n\
         idp_provider: oidc\n\
         idp_provider_url: {issuer}\n\
         idp_client_id: {CLIENT_ID}\n\
         idp_client_secret: {CLIENT_SECRET}\n\
         idp_scopes: [openid, profile, email, groups, offline_access]\n\
         {extra}\
         routes:\n\
         \x20 - from: {APP}\n\
         \x20   to: http://127.0.0.1:9\n\
         \x20   allow_any_authenticated_user: true\n\
         \x20 - from: https://*.apps.example.com\n\
         \x20   to: http://127.0.0.1:9\n\
         \x20   allow_any_authenticated_user: true\n"
    );
    portcullis_config::Config::from_sources(&yaml, "authenticate-test.yaml", &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{e}"))
}

// === the browser ===

/// A browser: cookies kept, redirects not followed (each hop is inspected).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `<base>/.portcullis/sign_in?redirect_uri=…`, signed as a route host signs it.
pub fn sign_in_url(env: &Env, redirect_uri: &str, programmatic: bool) -> Url {
    let mut url = env.base.join("/.portcullis/sign_in").unwrap();
    url.query_pairs_mut()
        .append_pair("redirect_uri", redirect_uri);
    if programmatic {
        url.query_pairs_mut().append_pair("programmatic", "true");
    }
    UrlSigner::new(&SHARED_SECRET).sign(url, SystemTime::now(), Duration::from_secs(300))
}

/// One response, reduced to what the tests look at.
#[derive(Debug)]
pub struct Hop {
    pub url: Url,
    pub status: StatusCode,
    pub location: Option<Url>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

/// GETs `url`.
pub async fn get(browser: &reqwest::Client, url: &Url) -> Hop {
    hop(url, browser.get(url.clone()).send().await.unwrap()).await
}

/// POSTs a form to `url`.
pub async fn post(browser: &reqwest::Client, url: &Url, form: &[(String, String)]) -> Hop {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = browser
        .post(url.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    hop(url, response).await
}

async fn hop(url: &Url, response: reqwest::Response) -> Hop {
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .map(|v| url.join(v.to_str().unwrap()).unwrap());
    let set_cookies = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = response.text().await.unwrap();
    Hop {
        url: url.clone(),
        status,
        location,
        set_cookies,
        body,
    }
}

/// Starts at `start` and follows redirects and the IdP's login and consent forms (as
/// `login`) until the browser is sent to the authenticate callback; returns that callback
/// URL without requesting it.
pub async fn to_callback(env: &Env, browser: &reqwest::Client, start: &Url, login: &str) -> Url {
    let mut next = get(browser, start).await;
    for _ in 0..20 {
        if let Some(location) = next.location.clone() {
            if location.path() == "/oauth2/callback" && location.origin() == env.base.origin() {
                return location;
            }
            next = get(browser, &location).await;
            continue;
        }
        assert_eq!(next.status, StatusCode::OK, "unexpected hop {next:?}");
        let form = Form::parse(&next.body).unwrap_or_else(|| panic!("no form in {}", next.body));
        let mut fields = form.hidden;
        if form.has_login {
            fields.push(("login".into(), login.into()));
            fields.push(("password".into(), "any".into()));
        }
        let action = next.url.join(&form.action).unwrap();
        next = post(browser, &action, &fields).await;
    }
    panic!("the login did not reach the callback in 20 hops");
}

/// The whole login from a sign-in URL: the final response of the authenticate callback.
pub async fn login(env: &Env, browser: &reqwest::Client, start: &Url, login: &str) -> Hop {
    let callback = to_callback(env, browser, start, login).await;
    get(browser, &callback).await
}

/// The first HTML form of a page.
struct Form {
    action: String,
    hidden: Vec<(String, String)>,
    has_login: bool,
}

impl Form {
    fn parse(html: &str) -> Option<Form> {
        let start = html.find("<form")?;
        let end = html[start..].find("</form>")? + start;
        let form = &html[start..end];
        let action = attribute(&form[..form.find('>')?], "action")?;
        let mut hidden = Vec::new();
        let mut has_login = false;
        for input in form.split("<input").skip(1) {
            let tag = &input[..input.find('>').unwrap_or(input.len())];
            let name = attribute(tag, "name").unwrap_or_default();
            if name == "login" {
                has_login = true;
            } else if attribute(tag, "type").as_deref() == Some("hidden") {
                hidden.push((name, attribute(tag, "value").unwrap_or_default()));
            }
        }
        Some(Form {
            action,
            hidden,
            has_login,
        })
    }
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let at = tag.find(&marker)? + marker.len();
    let len = tag[at..].find('"')?;
    Some(tag[at..at + len].replace("&amp;", "&"))
}

// === what the tests check ===

/// The query parameter `name` of `url`.
pub fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Opens the handoff of a route-host callback URL and the session handle inside it.
pub fn open_handoff(location: &Url) -> (SessionHandle, String, Url) {
    assert_eq!(location.path(), "/.portcullis/callback", "{location}");
    let sealed = param(location, "portcullis_handoff").expect("a handoff parameter");
    let handoff = HandoffCodec::new(&SHARED_SECRET)
        .open(&sealed, SystemTime::now())
        .expect("the handoff opens");
    let handle = SessionHandleCodec::new(&COOKIE_SECRET)
        .open(&handoff.token)
        .expect("the token is a session handle");
    (handle, handoff.token, handoff.redirect_uri)
}

/// Every live session record, decoded.
pub async fn sessions(storage: &dyn Storage) -> Vec<Session> {
    let page = storage
        .query(portcullis_databroker::Query {
            kind: Session::TYPE.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    page.records
        .iter()
        .map(|r| Session::decode(&r.data.type_url, &r.data.value).unwrap())
        .collect()
}

/// The session record `id`, if live.
pub async fn session(storage: &dyn Storage, id: &str) -> Option<(Session, u64)> {
    let record = storage.get(Session::TYPE, id).await.unwrap()?;
    Some((
        Session::decode(&record.data.type_url, &record.data.value).unwrap(),
        record.version,
    ))
}

/// The user record `id`, if live.
pub async fn user(storage: &dyn Storage, id: &str) -> Option<User> {
    let record = storage.get(User::TYPE, id).await.unwrap()?;
    Some(User::decode(&record.data.type_url, &record.data.value).unwrap())
}

/// The `Set-Cookie` value named `name`.
pub fn set_cookie<'a>(hop: &'a Hop, name: &str) -> Option<&'a str> {
    hop.set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(String::as_str)
}

/// Submits the first form of `page` with its hidden fields and `extra`.
pub async fn submit(browser: &reqwest::Client, page: &Hop, extra: &[(&str, &str)]) -> Hop {
    let form = Form::parse(&page.body).unwrap_or_else(|| panic!("no form in {}", page.body));
    let mut fields = form.hidden;
    fields.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    post(browser, &page.url.join(&form.action).unwrap(), &fields).await
}
