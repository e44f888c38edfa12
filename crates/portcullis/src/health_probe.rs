//! `portcullis health`: a readiness probe for containers (`HEALTHCHECK`, exec probes) that
//! have no curl. Asks `/readyz` and exits 0 when ready, 1 when not (or unreachable), 2 on a
//! usage error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `portcullis health`.
#[derive(Debug, clap::Args)]
pub(crate) struct HealthArgs {
    /// The URL to ask, e.g. `http://127.0.0.1:8080/readyz`. Default: `/readyz` on
    /// `127.0.0.1` at the port of the configuration's `address` (https unless
    /// `insecure_server`).
    #[arg(long)]
    url: Option<String>,
    /// The configuration to derive the URL from (when `--url` is not given).
    #[arg(
        short,
        long,
        env = "PORTCULLIS_CONFIG",
        default_value = "portcullis.yaml"
    )]
    config: PathBuf,
    /// Accept any TLS certificate (a self-signed one on the loopback address). The
    /// default when the URL is derived from the configuration, which asks by IP address.
    #[arg(long)]
    insecure: bool,
    /// How long to wait for the answer, in seconds.
    #[arg(long, default_value_t = 5)]
    timeout: u64,
}

/// Runs the probe.
pub(crate) fn run(args: &HealthArgs) -> ExitCode {
    let (url, insecure) = match &args.url {
        Some(url) => (url.clone(), args.insecure),
        None => match portcullis_config::load(&args.config) {
            Ok(config) => {
                let scheme = if config.insecure_server {
                    "http"
                } else {
                    "https"
                };
                let port = config.address.port();
                (format!("{scheme}://127.0.0.1:{port}/readyz"), true)
            }
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::from(2);
            }
        },
    };
    let Some(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()
    else {
        eprintln!("cannot start the async runtime");
        return ExitCode::from(2);
    };
    let timeout = Duration::from_secs(args.timeout);
    match runtime.block_on(ask(&url, insecure, timeout)) {
        Ok((true, body)) => {
            print!("{body}");
            ExitCode::SUCCESS
        }
        Ok((false, body)) => {
            print!("{body}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{url}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `GET url`: whether it answered 2xx, and its body.
async fn ask(url: &str, insecure: bool, timeout: Duration) -> Result<(bool, String), String> {
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(insecure)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let response = client.get(url).send().await.map_err(|e| error_chain(&e))?;
    let ok = response.status().is_success();
    let body = response.text().await.unwrap_or_default();
    Ok((ok, body))
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
