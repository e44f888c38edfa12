//! Starts the roles a configuration names, each from its library entry point, and tracks
//! them until they stop.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use portcullis_config::{Config, StorageOptions};
use portcullis_databroker::{Storage, StorageOptions as DatabrokerStorage};
use portcullis_grpc::SharedSecret;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

mod http;

pub(crate) use http::router_service;

/// Listeners bound before the configuration was final (`portcullis dev` binds port 0 and
/// writes the port it got into the routes).
#[derive(Debug, Default)]
pub(crate) struct Prebound {
    /// Used instead of binding `address`.
    pub(crate) address: Option<TcpListener>,
}

/// The running roles.
pub(crate) struct Roles {
    tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
    /// What a configuration reload updates.
    pub(crate) reloadable: crate::reload::Reloadable,
}

/// Starts every role `services` names. Listeners are bound before this returns, so a bad
/// address fails start-up rather than a role later.
///
/// The databroker storage is opened once: an authorize role in the same process reads it
/// directly (no loopback gRPC), and both serve on the one `grpc_address` listener.
pub(crate) async fn start(
    config: &Config,
    stop: watch::Receiver<bool>,
    prebound: Prebound,
) -> anyhow::Result<Roles> {
    let mut tasks = JoinSet::new();
    let mut reloadable = crate::reload::Reloadable::default();
    crate::metrics::start(config, &stop, &mut tasks).await?;
    let s = config.services;
    let secret = SharedSecret::from(*config.shared_secret.expose());
    let storage = if s.databroker {
        // Opened before "started" so a bad database fails start-up, not the first call.
        Some(open_storage(config).await?)
    } else {
        None
    };
    // Every other role reads the databroker: the store itself in process, else one client of
    // `databroker_service_url` shared by the roles of this process.
    let databroker = match &storage {
        Some(storage) => Some(Arc::clone(storage)),
        None if s.authorize || s.proxy || s.authenticate => Some(
            portcullis_authorize::connect_databroker(config)
                .context("cannot reach the databroker")?,
        ),
        None => None,
    };
    let engine = if s.authorize {
        let databroker = Arc::clone(databroker.as_ref().expect("set for authorize"));
        let engine = portcullis_authorize::Engine::new(config, databroker)
            .context("cannot start the authorize role")?;
        Some(Arc::new(engine))
    } else {
        None
    };
    reloadable.engine = engine.clone();
    let synced = engine.as_ref().map(|engine| {
        let engine = Arc::clone(engine);
        Arc::new(move || engine.replica().progress().server_version != 0)
            as portcullis_telemetry::ReadyCheck
    });
    let process = crate::health::process_health(databroker.clone(), synced, stop.clone());
    if let Some(databroker) = databroker
        && (s.proxy || s.authenticate)
    {
        let roles = http::HttpRoles {
            config,
            listener: prebound.address,
            secret: &secret,
            databroker,
            engine: engine.clone(),
            stop: stop.clone(),
            health: process.health.clone(),
        };
        (reloadable.proxy, reloadable.authenticate) = http::start(roles, &mut tasks).await?;
    }
    // The gRPC listener: the databroker's routes (and authorize's `Check` beside them in one
    // process), or authorize's alone.
    let grpc = match (storage, engine) {
        (Some(storage), engine) => {
            let (drain_tx, draining) = watch::channel(false);
            let routes = portcullis_databroker::routes_draining(storage, &secret, draining);
            match engine {
                Some(engine) => {
                    let check = portcullis_authorize::check::service(engine, &secret);
                    let routes = routes.add_service(check);
                    Some(("authorize", "databroker,authorize", routes, Some(drain_tx)))
                }
                None => Some(("databroker", "databroker", routes, Some(drain_tx))),
            }
        }
        (None, Some(engine)) => {
            let routes = portcullis_authorize::check::routes(engine, &secret);
            Some(("authorize", "authorize", routes, None))
        }
        (None, None) => None,
    };
    if let Some((service, role, routes, drain_tx)) = grpc {
        // TLS with the configured certificates unless `grpc_insecure` (true by default in
        // all-in-one); without any certificate, plain h2c.
        let tls = if config.grpc_insecure || config.certificates.is_empty() {
            None
        } else {
            Some(
                portcullis_proxy::grpc_server_tls(config)
                    .context("cannot load the gRPC listener's certificates")?,
            )
        };
        let listener = bind(service, config.grpc_address).await?;
        if role == "databroker,authorize" {
            tracing::info!(service = "databroker", address = %listener.local_addr()?, "listening");
        }
        tracing::info!(role, tls = tls.is_some(), "gRPC listener ready");
        let shutdown = stopped(stop.clone());
        let health = process.health.clone();
        let ready: portcullis_telemetry::ReadyCheck = {
            let health = health.clone();
            Arc::new(move || health.is_ready())
        };
        tasks.spawn(async move {
            let shutdown = async move {
                shutdown.await;
                // Not ready from here on, before the drain notice goes out.
                health.set_draining();
                // Open `Sync` streams end with UNAVAILABLE (graceful shutdown would otherwise
                // wait for them forever).
                if let Some(drain_tx) = drain_tx {
                    let _ = drain_tx.send(true);
                }
            };
            let result =
                portcullis_grpc::serve_with_readiness(routes, listener, tls, Some(ready), shutdown)
                    .await;
            (role, result.map_err(anyhow::Error::from))
        });
    }
    process
        .listeners
        .store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(Roles { tasks, reloadable })
}

/// Opens the configured databroker storage.
async fn open_storage(config: &Config) -> anyhow::Result<Arc<dyn Storage>> {
    let options = match &config.databroker_storage {
        StorageOptions::Memory => DatabrokerStorage::Memory,
        StorageOptions::Postgres { connection_string } => DatabrokerStorage::Postgres {
            connection_string: connection_string.expose().clone(),
        },
    };
    portcullis_databroker::open_storage(&options)
        .await
        .context("cannot open the databroker storage")
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
