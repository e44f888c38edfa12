//! `portcullis dev`: the whole product on one machine in one command, for trying it out.
//!
//! All-in-one with an in-memory databroker and fresh random secrets, plain HTTP on
//! `*.localhost` names (which browsers resolve to loopback), the built-in development OpenID
//! provider (`portcullis-dev`; authenticate talks to it through the same OIDC code as to any
//! provider) and a demo upstream that shows the identity it receives. The development
//! provider exists only in this command: nothing a configuration file says can start it.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use portcullis_config::Config;
use portcullis_dev::{DevClient, DevIdp};
use tokio::net::TcpListener;

use crate::roles::Prebound;

/// `portcullis dev` arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DevArgs {
    /// Where the proxy listens (plain HTTP); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub(crate) address: SocketAddr,
}

/// The client the development provider knows authenticate as.
const CLIENT_ID: &str = "portcullis-dev";

/// Runs dev mode until SIGINT/SIGTERM.
pub(crate) fn run(args: &DevArgs) -> ExitCode {
    let Some(runtime) = crate::run::runtime() else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(async move {
        match start(args).await {
            Ok((config, prebound)) => crate::run::serve(config, prebound, None).await,
            Err(e) => {
                eprintln!("portcullis dev: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn start(args: &DevArgs) -> anyhow::Result<(Config, Prebound)> {
    use anyhow::Context as _;
    let proxy = TcpListener::bind(args.address)
        .await
        .with_context(|| format!("cannot listen on {}", args.address))?;
    let idp = TcpListener::bind("127.0.0.1:0").await?;
    let upstream = TcpListener::bind("127.0.0.1:0").await?;
    let port = proxy.local_addr()?.port();
    let issuer = format!("http://127.0.0.1:{}", idp.local_addr()?.port());
    let client_secret = crate::cli::gen_secret();
    let text = config_text(port, &issuer, &client_secret, upstream.local_addr()?);
    let config = Config::from_sources(&text, "portcullis dev", &Default::default())
        .map_err(|e| anyhow::anyhow!("the generated configuration is invalid: {e}"))?;
    crate::telemetry::init(&config);

    let authenticate = config
        .authenticate_service_url
        .clone()
        .context("dev configuration has an authenticate URL")?;
    let client = DevClient {
        id: CLIENT_ID.to_owned(),
        secret: client_secret,
        redirect_uris: vec![format!("{}oauth2/callback", authenticate)],
        post_logout_redirect_uris: vec![format!("{}.portcullis/signed_out", authenticate)],
    };
    let idp_service = Arc::new(DevIdp::new(issuer.parse()?, vec![client]));
    for (listener, router, name) in [
        (idp, idp_service.router(), "development identity provider"),
        (upstream, portcullis_dev::demo_upstream(), "demo upstream"),
    ] {
        tracing::info!(service = name, address = %listener.local_addr()?, "listening");
        let service = crate::roles::router_service(router);
        tokio::spawn(async move {
            let never = std::future::pending::<()>();
            if let Err(e) = portcullis_proxy::serve_service(listener, None, service, never).await {
                tracing::error!(error = %e, "the {name} stopped");
            }
        });
    }
    let url = format!("http://app.localhost:{port}/");
    tracing::info!(
        %url,
        "portcullis dev is ready: open {url} in a browser and sign in with any email"
    );
    Ok((
        config,
        Prebound {
            address: Some(proxy),
        },
    ))
}

/// The all-in-one configuration dev mode runs.
fn config_text(port: u16, issuer: &str, client_secret: &str, upstream: SocketAddr) -> String {
    format!(
        r#"
address: 127.0.0.1:{port}
grpc_address: 127.0.0.1:0
insecure_server: true
# plain HTTP on localhost: browsers would drop Secure cookies outside a secure context
cookie_secure: false
authenticate_service_url: http://authenticate.localhost:{port}
idp_provider: oidc
idp_provider_url: {issuer}
idp_client_id: {CLIENT_ID}
idp_client_secret: {client_secret}
databroker_storage_type: memory
routes:
  - from: http://app.localhost:{port}
    to: http://{upstream}
    pass_identity_headers: true
    allow_any_authenticated_user: true
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_configuration_validates() {
        let text = config_text(
            8000,
            "http://127.0.0.1:9000",
            "c2VjcmV0",
            "127.0.0.1:9001".parse().unwrap(),
        );
        let config = Config::from_sources(&text, "dev", &Default::default()).unwrap();
        assert!(config.services.is_all());
        assert_eq!(config.routes.len(), 1);
        assert!(!config.cookie.secure);
    }
}
