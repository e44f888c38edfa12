//! Configuration reload (design §8): the file is re-read when it changes (checked every two
//! seconds, which also catches Kubernetes ConfigMap symlink swaps) and on SIGHUP. A valid new
//! configuration's routes, policies, headers and certificates are swapped in atomically by
//! every role of this process; requests in flight finish on the old one. An invalid one is
//! logged with every problem and the old one keeps serving.
//!
//! Keys that shape listeners, secrets or storage need a restart: a reload that changes them
//! applies the rest and logs which keys were left as they were.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portcullis_config::Config;
use tokio::sync::watch;

/// How often the file is checked for changes.
const POLL: Duration = Duration::from_secs(2);

/// The parts of the running roles that take a new configuration.
#[derive(Debug, Default, Clone)]
pub(crate) struct Reloadable {
    pub(crate) proxy: Option<Arc<portcullis_proxy::Proxy>>,
    pub(crate) engine: Option<Arc<portcullis_authorize::Engine>>,
    pub(crate) authenticate: Option<Arc<portcullis_authenticate::Authenticate>>,
}

/// Watches `path` until `stop`, applying each valid change to `roles`.
pub(crate) async fn watch(
    path: PathBuf,
    mut current: Config,
    roles: Reloadable,
    mut stop: watch::Receiver<bool>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(hup) => Some(hup),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; reloading on file changes only");
            None
        }
    };
    let mut seen = std::fs::read(&path).ok();
    loop {
        let hup_received = async {
            match hup.as_mut() {
                Some(hup) => hup.recv().await.is_some(),
                None => std::future::pending().await,
            }
        };
        let forced = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            true = hup_received => true,
            () = tokio::time::sleep(POLL) => false,
        };
        let text = std::fs::read(&path).ok();
        if !forced && text == seen {
            continue;
        }
        seen = text;
        let reason = if forced { "SIGHUP" } else { "file changed" };
        match portcullis_config::load(&path) {
            Err(error) => {
                portcullis_telemetry::metrics().config_reload(false);
                tracing::error!(
                    reason,
                    problems = %error,
                    "configuration rejected; the previous one keeps serving"
                )
            }
            Ok(mut next) => {
                keep_generated_secrets(&current, &mut next);
                let restart = needs_restart(&current, &next);
                keep_restart_only(&current, &mut next);
                let applied = apply(&roles, &next);
                portcullis_telemetry::metrics().config_reload(applied.is_ok());
                if let Err(error) = applied {
                    tracing::error!(
                        reason,
                        %error,
                        "configuration rejected; the previous one keeps serving"
                    );
                    continue;
                }
                if !restart.is_empty() {
                    tracing::warn!(
                        keys = %restart.join(", "),
                        "these keys changed but take effect only after a restart"
                    );
                }
                tracing::info!(reason, routes = next.routes.len(), "configuration reloaded");
                current = next;
            }
        }
    }
}

/// Applies `config` to every role, proxy first (the only one that can refuse it).
fn apply(roles: &Reloadable, config: &Config) -> Result<(), portcullis_proxy::ProxyError> {
    if let Some(proxy) = &roles.proxy {
        proxy.reload(config)?;
    }
    if let Some(engine) = &roles.engine {
        engine.reload(config);
    }
    if let Some(authenticate) = &roles.authenticate {
        authenticate.reload(config);
    }
    Ok(())
}

/// An all-in-one process without configured secrets made random ones at start; a reload must
/// not make new ones (every session would end).
fn keep_generated_secrets(current: &Config, next: &mut Config) {
    if next.shared_secret_generated {
        next.shared_secret = current.shared_secret.clone();
    }
    if next.cookie.secret_generated {
        next.cookie.secret = current.cookie.secret.clone();
    }
}

/// Puts back the running values of keys a reload cannot apply, so every role keeps using
/// the same secrets, keys and cookie settings (one role switching alone would make sealed
/// handles and signatures disagree between roles).
fn keep_restart_only(current: &Config, next: &mut Config) {
    next.shared_secret = current.shared_secret.clone();
    next.cookie = current.cookie.clone();
    next.signing_key = current.signing_key.clone();
    next.idp = current.idp.clone();
    next.authenticate_service_url = current.authenticate_service_url.clone();
    next.insecure_server = current.insecure_server;
}

/// The keys whose change a reload cannot apply.
fn needs_restart(current: &Config, next: &Config) -> Vec<&'static str> {
    let checks = [
        ("services", current.services != next.services),
        ("address", current.address != next.address),
        ("grpc_address", current.grpc_address != next.grpc_address),
        (
            "insecure_server",
            current.insecure_server != next.insecure_server,
        ),
        ("shared_secret", current.shared_secret != next.shared_secret),
        ("cookie_secret", current.cookie.secret != next.cookie.secret),
        ("cookie_*", !same_cookie(current, next)),
        ("signing_key", current.signing_key != next.signing_key),
        (
            "idp_*",
            format!("{:?}", current.idp) != format!("{:?}", next.idp),
        ),
        (
            "http_redirect_addr",
            current.http_redirect_addr != next.http_redirect_addr,
        ),
        (
            "metrics_address",
            current.metrics_address != next.metrics_address,
        ),
        ("log_level", current.log_level != next.log_level),
        (
            "databroker_storage",
            current.databroker_storage != next.databroker_storage,
        ),
        (
            "authenticate_service_url",
            current.authenticate_service_url != next.authenticate_service_url,
        ),
        (
            "authorize_service_url",
            current.authorize_service_urls != next.authorize_service_urls,
        ),
        (
            "databroker_service_url",
            current.databroker_service_urls != next.databroker_service_urls,
        ),
    ];
    checks
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
}

fn same_cookie(a: &Config, b: &Config) -> bool {
    let (a, b) = (&a.cookie, &b.cookie);
    a.name == b.name
        && a.expire == b.expire
        && a.domain == b.domain
        && a.same_site == b.same_site
        && a.http_only == b.http_only
        && a.secure == b.secure
}
