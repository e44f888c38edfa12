//! `wrk` (Debian's package) as the closed-loop load generator, and its report read back.

use std::time::Duration;

use anyhow::Context as _;

use crate::Options;
use crate::systems::{HOST, System};

/// What one `wrk` run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// Completed requests.
    pub requests: u64,
    /// Socket errors plus responses with a status of 400 or more.
    pub errors: u64,
    /// Requests per second.
    pub per_second: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// Runs `wrk` against `system` with the options' threads, connections and duration.
pub async fn run(system: &System, options: &Options) -> anyhow::Result<Throughput> {
    let mut command = std::process::Command::new("wrk");
    command
        .arg("-t")
        .arg(options.threads.to_string())
        .arg("-c")
        .arg(options.connections.to_string())
        .arg("-d")
        .arg(format!("{}s", options.duration.as_secs().max(1)))
        .arg("--latency")
        .arg("-H")
        .arg(format!("Host: {HOST}"));
    if let Some(cookie) = &system.cookie {
        command.arg("-H").arg(format!("Cookie: {cookie}"));
    }
    command.arg(format!("http://{}/", system.addr));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context("run wrk (scripts/setup installs Debian's wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse(&text).with_context(|| format!("unexpected wrk output:\n{text}"))
}

/// Reads wrk's `--latency` report.
pub fn parse(text: &str) -> anyhow::Result<Throughput> {
    let mut result = Throughput {
        requests: 0,
        errors: 0,
        per_second: 0.0,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
    };
    let (mut rate, mut p50, mut p99, mut count) = (false, false, false, false);
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(value)) => {
                result.per_second = value.parse()?;
                rate = true;
            }
            (Some("50%"), Some(value)) => {
                result.p50 = duration(value)?;
                p50 = true;
            }
            (Some("99%"), Some(value)) => {
                result.p99 = duration(value)?;
                p99 = true;
            }
            (Some(n), Some("requests")) if line.contains(" requests in ") => {
                result.requests = n.parse()?;
                count = true;
            }
            (Some("Non-2xx"), _) => {
                result.errors += line.rsplit(' ').next().unwrap_or("0").parse::<u64>()?;
            }
            (Some("Socket"), Some("errors:")) => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                for part in line["Socket errors:".len()..].split(',') {
                    if let Some(n) = part.split_whitespace().nth(1) {
                        result.errors += n.parse::<u64>()?;
                    }
                }
            }
            _ => {}
        }
    }
    anyhow::ensure!(rate && p50 && p99 && count, "missing figures");
    Ok(result)
}

/// `250.00us`, `1.06ms`, `2.00s`.
fn duration(text: &str) -> anyhow::Result<Duration> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .context("a unit")?;
    let (value, unit) = text.split_at(split);
    let value: f64 = value.parse()?;
    let micros = match unit {
        "us" => value,
        "ms" => value * 1e3,
        "s" => value * 1e6,
        "m" => value * 60e6,
        other => anyhow::bail!("unknown unit {other:?}"),
    };
    Ok(Duration::from_nanos((micros * 1e3) as u64))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    const REPORT: &str = "Running 10s test @ http://127.0.0.1:8080/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   635.91us    0.89ms  12.92ms   93.69%
    Req/Sec    56.20k     8.07k   62.00k    86.54%
  Latency Distribution
     50%  250.00us
     75%  491.00us
     90%    1.06ms
     99%    4.23ms
  1122672 requests in 10.10s, 133.76MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 10
Requests/sec: 111155.50
Transfer/sec:     13.24MB
";

    #[test]
    fn reads_every_figure() {
        let result = super::parse(REPORT).unwrap();
        assert_eq!(result.requests, 1_122_672);
        assert_eq!(result.errors, 13);
        assert!((result.per_second - 111_155.5).abs() < 0.01);
        assert_eq!(result.p50, Duration::from_micros(250));
        assert_eq!(result.p99, Duration::from_micros(4_230));
    }

    #[test]
    fn a_truncated_report_is_an_error() {
        assert!(super::parse(&REPORT[..200]).is_err());
    }
}
