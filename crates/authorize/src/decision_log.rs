//! One structured log line per decision (design §10): request id, route, user, email,
//! allow/deny, status, reasons and how long the decision took. Never tokens, cookies or
//! secrets: the fields below are all there is.

use std::time::Duration;

/// The log target of decision lines (filter with `portcullis_authorize::decision=info`).
pub const TARGET: &str = "portcullis_authorize::decision";

/// What one decision line says.
#[derive(Debug)]
pub(crate) struct DecisionLine<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) route: &'a str,
    pub(crate) user: &'a str,
    pub(crate) email: &'a str,
    pub(crate) allow: bool,
    pub(crate) status: u16,
    pub(crate) reasons: &'a [&'static str],
    pub(crate) duration: Duration,
}

/// Writes the line at `info` (a disabled level costs one atomic load).
pub(crate) fn log(line: &DecisionLine<'_>) {
    tracing::info!(
        target: TARGET,
        request_id = line.request_id,
        route = line.route,
        user = line.user,
        email = line.email,
        decision = if line.allow { "allow" } else { "deny" },
        status = line.status,
        reasons = %Joined(line.reasons),
        duration_us = u64::try_from(line.duration.as_micros()).unwrap_or(u64::MAX),
        "decision"
    );
}

struct Joined<'a>(&'a [&'static str]);

impl std::fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, reason) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(reason)?;
        }
        Ok(())
    }
}
