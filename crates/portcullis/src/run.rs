//! `portcullis run`: start the roles named by `services`, wait for a signal, drain.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use portcullis_config::Config;
use tokio::sync::watch;

use crate::roles::Prebound;

/// The commit the binary was built from, when the build set `PORTCULLIS_GIT_COMMIT`.
const GIT_COMMIT: &str = match option_env!("PORTCULLIS_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// How long in-flight work may take to finish after SIGTERM/SIGINT.
const GRACE_PERIOD: Duration = Duration::from_secs(30);

/// One line describing what a configuration runs.
pub(crate) fn summary(config: &Config) -> String {
    let s = config.services;
    let roles: Vec<&str> = [
        (s.proxy, "proxy"),
        (s.authorize, "authorize"),
        (s.authenticate, "authenticate"),
        (s.databroker, "databroker"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    format!(
        "services: {}; {} route(s)",
        roles.join(","),
        config.routes.len()
    )
}

/// Runs until a signal arrives and every role has drained (or the grace period ends).
pub(crate) fn run(config: Config, path: PathBuf) -> ExitCode {
    crate::telemetry::init(&config);
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(serve(config, Prebound::default(), Some(path)))
}

/// Starts the roles and runs until a signal arrives and every role has drained.
/// With `watch`, the configuration file is reloaded when it changes and on SIGHUP.
pub(crate) async fn serve(
    config: Config,
    prebound: Prebound,
    watch_file: Option<PathBuf>,
) -> ExitCode {
    {
        if config.shared_secret_generated {
            tracing::warn!("no shared_secret configured: using a random one for this process");
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop_rx_watch = stop_rx.clone();
        let mut roles = match crate::roles::start(&config, stop_rx, prebound).await {
            Ok(roles) => roles,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(summary = %summary(&config), "started");
        let metrics = portcullis_telemetry::metrics();
        metrics.set_build_info(env!("CARGO_PKG_VERSION"), GIT_COMMIT);
        metrics.config_reload(true);
        if let Some(path) = watch_file {
            let (roles, stop) = (roles.reloadable.clone(), stop_rx_watch.clone());
            tokio::spawn(crate::reload::watch(path, config.clone(), roles, stop));
        }
        let failed = tokio::select! {
            signal = shutdown_signal() => {
                tracing::info!(signal, "shutting down");
                false
            }
            result = roles.first_exit() => {
                tracing::error!(error = ?result, "a role stopped unexpectedly; shutting down");
                true
            }
        };
        let _ = stop_tx.send(true);
        if tokio::time::timeout(GRACE_PERIOD, roles.join_all())
            .await
            .is_err()
        {
            tracing::warn!(grace_period = ?GRACE_PERIOD, "roles did not drain in time");
        }
        if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// The multi-threaded runtime every command that serves runs on.
pub(crate) fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| tracing::error!(error = %e, "cannot start the async runtime"))
        .ok()
}

/// Resolves with the signal's name on SIGTERM or SIGINT.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("cannot install a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("cannot install a SIGINT handler");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
