//! Starts the roles a configuration names, each from its library entry point, and tracks
//! them until they stop.

use std::net::SocketAddr;

use anyhow::Context as _;
use portcullis_config::{Config, StorageOptions};
use portcullis_databroker::StorageOptions as DatabrokerStorage;
use portcullis_grpc::SharedSecret;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The running roles.
pub(crate) struct Roles {
    tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
}

/// Starts every role `services` names. Listeners are bound before this returns, so a bad
/// address fails start-up rather than a role later.
pub(crate) async fn start(config: &Config, stop: watch::Receiver<bool>) -> anyhow::Result<Roles> {
    let mut tasks = JoinSet::new();
    let s = config.services;
    let missing: Vec<&str> = [
        (s.proxy, "proxy"),
        (s.authorize, "authorize"),
        (s.authenticate, "authenticate"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the {} role(s) are not available in this build yet; run `services: databroker`",
            missing.join(", ")
        );
    }
    if s.databroker {
        let listener = bind("databroker", config.grpc_address).await?;
        let storage = match &config.databroker_storage {
            StorageOptions::Memory => DatabrokerStorage::Memory,
            StorageOptions::Postgres { connection_string } => DatabrokerStorage::Postgres {
                connection_string: connection_string.expose().clone(),
            },
        };
        // Opened before "started" so a bad database fails start-up, not the first call.
        let storage = portcullis_databroker::open_storage(&storage)
            .await
            .context("cannot open the databroker storage")?;
        let secret = SharedSecret::from(*config.shared_secret.expose());
        let shutdown = stopped(stop.clone());
        tasks.spawn(async move {
            let result =
                portcullis_databroker::serve_storage(storage, &secret, listener, shutdown).await;
            ("databroker", result.map_err(anyhow::Error::from))
        });
    }
    Ok(Roles { tasks })
}

/// Binds a listener and logs the bound address (tests read it when they ask for port 0).
pub(crate) async fn bind(
    service: &'static str,
    address: SocketAddr,
) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} for the {service} role"))?;
    let bound = listener.local_addr()?;
    tracing::info!(service, address = %bound, "listening");
    Ok(listener)
}

/// Resolves when `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

// === impl Roles ===

impl Roles {
    /// Waits for the first role to stop on its own (never, while all is well).
    pub(crate) async fn first_exit(&mut self) -> anyhow::Result<()> {
        match self.tasks.join_next().await {
            None => std::future::pending().await,
            Some(Ok((role, Ok(())))) => Err(anyhow::anyhow!("the {role} role stopped")),
            Some(Ok((role, Err(e)))) => Err(e.context(format!("the {role} role failed"))),
            Some(Err(e)) => Err(anyhow::anyhow!("a role panicked: {e}")),
        }
    }

    /// Waits for every role to finish draining.
    pub(crate) async fn join_all(mut self) {
        while let Some(result) = self.tasks.join_next().await {
            match result {
                Ok((role, Err(e))) => {
                    tracing::warn!(role, error = %e, "role stopped with an error")
                }
                Ok((_, Ok(()))) => {}
                Err(e) => tracing::warn!(error = %e, "role panicked while draining"),
            }
        }
    }
}
