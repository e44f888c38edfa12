//! The load harness: in one run on one machine it starts a small fast upstream, nginx as a
//! plain `proxy_pass` to it (the no-auth ceiling), portcullis all-in-one with a route that
//! requires a signed-in user, and portcullis split (proxy → authorize over gRPC); drives each
//! with the same load generator (`wrk`) at the same concurrency, alternating systems round by
//! round; then a fixed-rate run for added latency, and resident memory idle and with many
//! sessions in the replica. Results are printed as a Markdown table with ratios against the
//! baselines measured in the same run.
//!
//! - [`upstream`]: the upstream every system forwards to (counts what reached it).
//! - [`systems`]: starting the four systems and the signed-in session.
//! - [`wrk`]: running `wrk` and reading its report.
//! - [`rate`]: the fixed-rate (open-loop) generator.
//! - [`rss`]: resident memory of a process tree.
//! - [`report`]: the table.

pub mod rate;
pub mod report;
pub mod rss;
pub mod systems;
pub mod upstream;
pub mod wrk;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

/// What a run measures, and how long.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds per `wrk` run.
    pub duration: Duration,
    /// Concurrent connections of every `wrk` run.
    pub connections: u32,
    /// `wrk` threads.
    pub threads: u32,
    /// Rounds; each round measures every system once, in alternating order.
    pub rounds: u32,
    /// Requests per second of the fixed-rate run.
    pub rate: u32,
    /// Duration of the fixed-rate run per system.
    pub rate_duration: Duration,
    /// Sessions written before the memory measurement.
    pub sessions: u32,
    /// The executable run as portcullis (this binary, which behaves as `portcullis run`).
    pub executable: std::path::PathBuf,
}

impl Options {
    /// The full run documented in `benches/README.md`.
    pub fn full(executable: std::path::PathBuf) -> Options {
        Options {
            duration: Duration::from_secs(10),
            connections: 64,
            threads: 2,
            rounds: 3,
            rate: 2_000,
            rate_duration: Duration::from_secs(10),
            sessions: 100_000,
            executable,
        }
    }

    /// A few seconds with small numbers: the test suite runs this so the harness cannot rot.
    pub fn smoke(executable: std::path::PathBuf) -> Options {
        Options {
            duration: Duration::from_secs(1),
            connections: 8,
            threads: 1,
            rounds: 1,
            rate: 200,
            rate_duration: Duration::from_secs(1),
            sessions: 1_000,
            executable,
        }
    }

    fn parse(args: &[String], executable: std::path::PathBuf) -> anyhow::Result<Options> {
        let mut options = Options::full(executable);
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            if flag == "--smoke" {
                let executable = options.executable.clone();
                options = Options::smoke(executable);
                continue;
            }
            let value = args
                .next()
                .with_context(|| format!("{flag} needs a value"))?;
            let number = || -> anyhow::Result<u32> {
                value
                    .parse()
                    .with_context(|| format!("{flag}: {value:?} is not a number"))
            };
            match flag.as_str() {
                "--duration" => options.duration = Duration::from_secs(number()?.into()),
                "--connections" => options.connections = number()?,
                "--threads" => options.threads = number()?,
                "--rounds" => options.rounds = number()?,
                "--rate" => options.rate = number()?,
                "--rate-duration" => options.rate_duration = Duration::from_secs(number()?.into()),
                "--sessions" => options.sessions = number()?,
                _ => anyhow::bail!(
                    "unknown flag {flag}; flags: --smoke --duration S --connections N --threads N \
                     --rounds N --rate N --rate-duration S --sessions N"
                ),
            }
        }
        Ok(options)
    }
}

/// The command line entry point.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = std::env::current_exe()
        .context("the harness knows its own path")
        .and_then(|exe| Options::parse(&args, exe))
        .and_then(|options| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?
                .block_on(run(options))
        });
    match result {
        Ok(report) => {
            println!("{}", report.markdown());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("portcullis-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every measurement and returns the report.
pub async fn run(options: Options) -> anyhow::Result<report::Report> {
    portcullis_testing::process::use_executable(options.executable.clone());
    let upstream = upstream::Upstream::start().await?;
    let systems = systems::Systems::start(&upstream).await?;
    let mut report = report::Report::new(&options);

    for round in 0..options.rounds {
        // Alternate the order so no system always runs first (or on a warmer machine).
        let mut order: Vec<&systems::System> = systems.all().collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for system in order {
            let before = upstream.served();
            let result = wrk::run(system, &options).await?;
            let reached = upstream.served() - before;
            // Every counted request must have reached the upstream: a run of redirects or
            // denials would measure nothing.
            anyhow::ensure!(
                reached + u64::from(options.connections) >= result.requests && result.errors == 0,
                "{}: wrk counted {} requests ({} errors) but the upstream served {reached}",
                system.name,
                result.requests,
                result.errors
            );
            report.add_throughput(system, result);
        }
    }
    for system in systems.all() {
        let latency = rate::run(system, options.rate, options.rate_duration).await?;
        report.add_fixed_rate(system, latency);
        report.add_peak_rss(system, rss::peak_kib(&system.pids)?);
    }
    let memory = systems::memory(&upstream, &options).await?;
    report.memory = Some(memory);
    Ok(report)
}
