//! The decision engine: route policy + session/user records → allow (with identity headers)
//! or deny.
//!
//! ```text
//! route (by id, else by host+path)          ── none ──────────────▶ 404
//!  → session handle (cookie / bearer)       ── none, bad ─┐
//!  → session + user from the local replica  ── gone, expired ─┤ anonymous
//!                                           ── can't tell ─────────▶ 503
//!  → policy.evaluate(user?, request, now)
//!      allow                                ─▶ Allow { JWT + identity headers, strip credentials }
//!      deny, anonymous and login would help ─▶ 302 to sign in (browsers) / 401
//!      deny                                 ─▶ 403
//! ```
//! Every decision writes one line to the decision log.

use std::sync::Arc;

use arc_swap::ArcSwap;
use std::time::{Instant, SystemTime};

use portcullis_config::Config;
use portcullis_databroker::{Storage, SyncClient};
use portcullis_grpc::SessionHandleCodec;
use portcullis_policy::{ClientCertificate, Input, Request, User};
use portcullis_proto::{AuthorizeDecision, AuthorizeRequest, Authorizer, Session};

use crate::decision_log::{DecisionLine, log};
use crate::error::{Denial, EngineError};
use crate::headers::{HeaderRules, Signed};
use crate::respond::Responder;
use crate::routes::RouteTable;
use crate::sessions::{Identity, Lookup, Sessions};
use crate::{IdentityJwtSigner, SigningKey, TokenRequest, certificate, credential};

/// Decides requests in process. Implements [`Authorizer`]; the Check service wraps it.
#[derive(Debug)]
pub struct Engine {
    /// Routes and header rules: swapped whole by [`Engine::reload`].
    rules: ArcSwap<Rules>,
    sessions: Sessions,
    codec: SessionHandleCodec,
    signer: IdentityJwtSigner,
    responder: Responder,
}

/// What a configuration reload can change.
#[derive(Debug)]
struct Rules {
    routes: RouteTable,
    headers: HeaderRules,
}

impl Rules {
    fn new(config: &Config) -> Rules {
        Rules {
            routes: RouteTable::new(&config.routes),
            headers: HeaderRules {
                cookie_name: config.cookie.name.clone(),
                claims_headers: config
                    .jwt_claims_headers
                    .iter()
                    .map(|(h, c)| (h.to_ascii_lowercase(), c.clone()))
                    .collect(),
            },
        }
    }
}

/// A decision and what the log line needs.
struct Outcome<'a> {
    decision: AuthorizeDecision,
    route: &'a str,
    identity: Option<Arc<Identity>>,
    reasons: Vec<&'static str>,
}

// === impl Engine ===

impl Engine {
    /// An engine for `config`'s routes, keys and cookie settings, reading sessions and users
    /// from a replica of `databroker` (the in-process storage, or a
    /// [`portcullis_databroker::Client`]). Starts the replica: call inside a tokio runtime.
    pub fn new(config: &Config, databroker: Arc<dyn Storage>) -> Result<Engine, EngineError> {
        let key = match &config.signing_key {
            Some(pem) => SigningKey::from_pem(pem.expose())?,
            None => SigningKey::derive(config.shared_secret.expose()),
        };
        let replica = SyncClient::only(
            Arc::clone(&databroker),
            [
                Session::TYPE.to_owned(),
                portcullis_proto::User::TYPE.to_owned(),
            ],
        );
        let responder = Responder::new(
            config.authenticate_service_url.as_ref(),
            config.shared_secret.expose(),
        );
        responder.show_details(config.show_error_details);
        Ok(Engine {
            rules: ArcSwap::from_pointee(Rules::new(config)),
            sessions: Sessions::new(Arc::new(replica), databroker),
            codec: SessionHandleCodec::new(config.cookie.secret.expose()),
            signer: IdentityJwtSigner::new(key),
            responder,
        })
    }

    /// Swaps in `config`'s routes (with their policies), cookie name and claim headers at
    /// once; decisions in flight finish on the old ones. Keys and secrets need a restart.
    pub fn reload(&self, config: &Config) {
        self.rules.store(Arc::new(Rules::new(config)));
        self.responder.show_details(config.show_error_details);
    }

    /// The local replica of session and user records.
    pub fn replica(&self) -> &SyncClient {
        self.sessions.replica()
    }

    /// The identity JWT signing key (its JWKS is served at
    /// `/.well-known/portcullis/jwks.json`).
    pub fn signing_key(&self) -> &SigningKey {
        self.signer.key()
    }

    /// How many routes the engine decides for.
    pub fn route_count(&self) -> usize {
        self.rules.load().routes.len()
    }

    /// Decides `request` and logs the decision.
    pub async fn decide(&self, request: &AuthorizeRequest) -> AuthorizeDecision {
        let started = Instant::now();
        let rules = self.rules.load_full();
        let outcome = self.evaluate(&rules, request, SystemTime::now()).await;
        let identity = outcome.identity.as_deref();
        let took = started.elapsed();
        portcullis_telemetry::metrics().authorize_decision(
            outcome.decision.is_allow(),
            outcome.decision.status(),
            &outcome.reasons,
            took,
        );
        log(&DecisionLine {
            request_id: &request.request_id,
            route: outcome.route,
            user: identity.map_or("", |i| i.jwt.user_id.as_str()),
            email: identity.and_then(|i| i.email.as_deref()).unwrap_or(""),
            allow: outcome.decision.is_allow(),
            status: outcome.decision.status(),
            reasons: &outcome.reasons,
            duration: took,
        });
        outcome.decision
    }

    async fn evaluate<'a>(
        &'a self,
        rules: &'a Rules,
        request: &'a AuthorizeRequest,
        now: SystemTime,
    ) -> Outcome<'a> {
        let route = match &request.route_id {
            Some(id) => rules.routes.get(id),
            None => rules
                .routes
                .find(&request.scheme, &request.host, &request.path),
        };
        let Some(route) = route else {
            let route = request.route_id.as_deref().unwrap_or("");
            return self.deny(Denial::NoRoute, request, route, None, vec!["no-route"], now);
        };
        let route_id = route.route.id.as_str();
        let mut reasons: Vec<&'static str> = Vec::new();
        let identity = match credential::session_token(request, &rules.headers.cookie_name) {
            None => None,
            Some(token) => match self.codec.open(token) {
                Err(_) => {
                    reasons.push("session-invalid");
                    None
                }
                Ok(handle) => match self.sessions.lookup(&handle).await {
                    Lookup::Found(identity) if now >= identity.expires_at => {
                        reasons.push("session-expired");
                        None
                    }
                    Lookup::Found(identity) => Some(identity),
                    Lookup::Missing => {
                        reasons.push("session-not-found");
                        None
                    }
                    Lookup::Unavailable => {
                        reasons.push("databroker-unavailable");
                        return self.deny(
                            Denial::Unavailable,
                            request,
                            route_id,
                            None,
                            reasons,
                            now,
                        );
                    }
                },
            },
        };

        let certificate = request
            .client_certificate
            .as_deref()
            .map(certificate::parse);
        let input = Input {
            user: identity.as_deref().map(|i| User {
                id: &i.jwt.user_id,
                email: i.email.as_deref(),
                groups: &i.jwt.groups,
                claims: Some(&i.claims),
            }),
            request: Request {
                method: &request.method,
                path: &request.path,
                source_ip: request.client_address,
                origin: request.header("origin"),
                access_control_request_method: request.header("access-control-request-method"),
                client_certificate: certificate.as_ref().map(|c| ClientCertificate {
                    fingerprint_sha256: c.fingerprint_sha256,
                    spki_sha256: c.spki_sha256,
                    san_dns: &c.san_dns,
                    san_email: &c.san_email,
                    san_uri: &c.san_uri,
                }),
            },
            now,
        };
        let decision = route.route.policy.evaluate(&input);
        reasons.extend(decision.reasons.iter().map(|r| r.as_str()));

        if !decision.allow {
            let denial = if identity.is_none() && decision.requires_login {
                Denial::Unauthenticated
            } else {
                Denial::Forbidden
            };
            return self.deny(denial, request, route_id, identity, reasons, now);
        }
        let signed = match identity.as_deref() {
            None => None,
            Some(i) => {
                let token = self.signer.token(&TokenRequest {
                    session_id: &i.session_id,
                    route_id,
                    audience: &route.audience,
                    identity_version: i.version(),
                    claims: &i.jwt,
                    now,
                });
                match token {
                    Ok(jwt) => Some(Signed { identity: i, jwt }),
                    Err(error) => {
                        tracing::error!(%error, "signing the identity JWT failed");
                        reasons.push("jwt-signing-failed");
                        return self.deny(
                            Denial::Internal,
                            request,
                            route_id,
                            identity,
                            reasons,
                            now,
                        );
                    }
                }
            }
        };
        let allow = crate::headers::allow(&rules.headers, request, route, signed.as_ref());
        Outcome {
            decision: AuthorizeDecision::Allow(allow),
            route: route_id,
            identity,
            reasons,
        }
    }

    fn deny<'a>(
        &self,
        denial: Denial,
        request: &AuthorizeRequest,
        route: &'a str,
        identity: Option<Arc<Identity>>,
        reasons: Vec<&'static str>,
        now: SystemTime,
    ) -> Outcome<'a> {
        let names = reasons.iter().map(|r| (*r).to_owned()).collect();
        Outcome {
            decision: AuthorizeDecision::Deny(self.responder.deny(denial, request, names, now)),
            route,
            identity,
            reasons,
        }
    }
}

#[async_trait::async_trait]
impl Authorizer for Engine {
    async fn authorize(&self, request: &AuthorizeRequest) -> AuthorizeDecision {
        self.decide(request).await
    }
}
