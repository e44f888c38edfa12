//! The results, as the Markdown table `benches/README.md` records.

use std::fmt::Write as _;
use std::time::Duration;

use crate::Options;
use crate::rate::Latency;
use crate::systems::{Memory, System};
use crate::wrk::Throughput;

/// Everything one run measured.
#[derive(Debug)]
pub struct Report {
    settings: String,
    /// Per system (in first-seen order): every round's throughput.
    throughput: Vec<(&'static str, Vec<Throughput>)>,
    fixed_rate: Vec<(&'static str, Latency)>,
    peak_rss: Vec<(&'static str, u64)>,
    rate: u32,
    /// Resident memory of a fresh all-in-one process.
    pub memory: Option<Memory>,
}

impl Report {
    /// An empty report for a run with `options`.
    pub fn new(options: &Options) -> Report {
        Report {
            settings: format!(
                "wrk -t{} -c{} -d{}s, {} round(s) alternating; fixed rate {} req/s for {} s",
                options.threads,
                options.connections,
                options.duration.as_secs(),
                options.rounds,
                options.rate,
                options.rate_duration.as_secs()
            ),
            throughput: Vec::new(),
            fixed_rate: Vec::new(),
            peak_rss: Vec::new(),
            rate: options.rate,
            memory: None,
        }
    }

    /// Records one closed-loop run.
    pub fn add_throughput(&mut self, system: &System, result: Throughput) {
        match self.throughput.iter_mut().find(|(n, _)| *n == system.name) {
            Some((_, runs)) => runs.push(result),
            None => self.throughput.push((system.name, vec![result])),
        }
    }

    /// Records the fixed-rate run.
    pub fn add_fixed_rate(&mut self, system: &System, latency: Latency) {
        self.fixed_rate.push((system.name, latency));
    }

    /// Records the peak resident memory of the system's processes.
    pub fn add_peak_rss(&mut self, system: &System, kib: u64) {
        self.peak_rss.push((system.name, kib));
    }

    /// The median round of `name` (by requests per second).
    pub fn throughput(&self, name: &str) -> Option<Throughput> {
        let (_, runs) = self.throughput.iter().find(|(n, _)| *n == name)?;
        let mut runs = runs.clone();
        runs.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
        runs.get(runs.len() / 2).copied()
    }

    /// The fixed-rate result of `name`.
    pub fn fixed_rate(&self, name: &str) -> Option<Latency> {
        self.fixed_rate
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, l)| *l)
    }

    /// The Markdown tables and the targets.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Measured {} — {}\n", today(), self.settings);
        let nginx = self.throughput("nginx").map_or(0.0, |t| t.per_second);
        let direct = self.throughput("direct").map_or(0.0, |t| t.per_second);
        out.push_str(
            "| system | req/s (median round) | p50 | p99 | peak RSS | vs nginx | vs direct |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for (name, _) in &self.throughput {
            let Some(t) = self.throughput(name) else {
                continue;
            };
            let rss = self
                .peak_rss
                .iter()
                .find(|(n, _)| n == name)
                .map_or("—".to_owned(), |(_, kib)| mib(*kib));
            let _ = writeln!(
                out,
                "| {name} | {:.0} | {} | {} | {rss} | {} | {} |",
                t.per_second,
                ms(t.p50),
                ms(t.p99),
                ratio(t.per_second, nginx),
                ratio(t.per_second, direct),
            );
        }
        let base = self.fixed_rate("direct").map_or(Duration::ZERO, |l| l.p99);
        let _ = writeln!(
            out,
            "\nFixed rate, {} req/s:\n\n| system | p50 | p99 | added p99 vs direct | failed |\n|---|---|---|---|---|",
            self.rate
        );
        for (name, l) in &self.fixed_rate {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} of {} |",
                ms(l.p50),
                ms(l.p99),
                ms(l.p99.saturating_sub(base)),
                l.failed,
                l.sent
            );
        }
        if let Some(m) = self.memory {
            let _ = writeln!(
                out,
                "\nAll-in-one resident memory: idle {}, with {} sessions in the replica {}.",
                mib(m.idle_kib),
                m.sessions,
                mib(m.with_sessions_kib)
            );
        }
        out.push_str(&self.targets());
        out
    }

    /// The targets, each marked met or not.
    fn targets(&self) -> String {
        let nginx = self.throughput("nginx").map_or(f64::NAN, |t| t.per_second);
        let per_second = |n| self.throughput(n).map_or(0.0, |t| t.per_second);
        let base = self.fixed_rate("direct").map_or(Duration::ZERO, |l| l.p99);
        let added = |n| {
            self.fixed_rate(n)
                .map_or(Duration::MAX, |l| l.p99.saturating_sub(base))
        };
        let mut out = String::from("\n| target | measured | met |\n|---|---|---|\n");
        let mut line = |target: &str, measured: String, met: bool| {
            let _ = writeln!(
                out,
                "| {target} | {measured} | {} |",
                if met { "yes" } else { "no" }
            );
        };
        let aio = per_second("all-in-one") / nginx;
        line("all-in-one ≥ 0.90× nginx", format!("{aio:.2}×"), aio >= 0.9);
        let split = per_second("split") / nginx;
        line("split ≥ 0.60× nginx", format!("{split:.2}×"), split >= 0.6);
        let a = added("all-in-one");
        line(
            "all-in-one added p99 ≤ 1 ms",
            ms(a),
            a <= Duration::from_millis(1),
        );
        let s = added("split");
        line(
            "split added p99 ≤ 2 ms",
            ms(s),
            s <= Duration::from_millis(2),
        );
        if let Some(m) = self.memory {
            line("idle RSS ≤ 30 MB", mib(m.idle_kib), m.idle_kib <= 30 * 1024);
            line(
                &format!("RSS with {} sessions ≤ 150 MB", m.sessions),
                mib(m.with_sessions_kib),
                m.with_sessions_kib <= 150 * 1024,
            );
        }
        out
    }
}

fn ratio(value: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.2}×", value / base)
    } else {
        "—".to_owned()
    }
}

fn ms(d: Duration) -> String {
    if d == Duration::MAX {
        return "—".to_owned();
    }
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

/// Today's date (UTC) as `YYYY-MM-DD`, from `date` (the harness needs no calendar code).
fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%F"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "today".to_owned(), |d| d.trim().to_owned())
}
