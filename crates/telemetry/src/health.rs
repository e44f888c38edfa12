//! Process readiness, shared by every listener of the process: `/readyz` and `/status` on
//! the HTTP listener (proxy or authenticate) and `grpc.health.v1` on the gRPC listener all
//! read the one [`Health`].
//!
//! Ready means every registered component says so (configuration loaded, listeners bound,
//! initial databroker sync complete, storage reachable, …) and the process is not draining.
//! Components are checks asked at each report, so a report is never stale.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// A component's readiness, asked at each report.
pub type ReadyCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// The process's readiness. Cheap to clone; clones share the state.
#[derive(Clone, Default)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    checks: RwLock<Vec<(String, ReadyCheck)>>,
    draining: AtomicBool,
}

/// One readiness answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// Every component is ready and the process is not draining.
    pub ready: bool,
    /// Shutdown has begun.
    pub draining: bool,
    /// Each component, in registration order, and whether it is ready.
    pub components: Vec<(String, bool)>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("report", &self.report())
            .finish()
    }
}

// === impl Health ===

impl Health {
    /// Makes readiness wait for `check` (`name` says what is waiting, e.g.
    /// `databroker sync`).
    pub fn add(&self, name: impl Into<String>, check: ReadyCheck) {
        if let Ok(mut checks) = self.inner.checks.write() {
            checks.push((name.into(), check));
        }
    }

    /// A component that is ready once the returned flag is set.
    pub fn add_flag(&self, name: impl Into<String>) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        let read = Arc::clone(&flag);
        self.add(name, Arc::new(move || read.load(Ordering::Relaxed)));
        flag
    }

    /// Marks the process as draining: never ready again.
    pub fn set_draining(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
    }

    /// True once [`Health::set_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Relaxed)
    }

    /// Asks every component now.
    pub fn report(&self) -> HealthReport {
        let draining = self.is_draining();
        let components: Vec<(String, bool)> = self
            .inner
            .checks
            .read()
            .map(|c| c.iter().map(|(n, check)| (n.clone(), check())).collect())
            .unwrap_or_default();
        HealthReport {
            ready: !draining && components.iter().all(|(_, ok)| *ok),
            draining,
            components,
        }
    }

    /// True when [`Health::report`] would say ready.
    pub fn is_ready(&self) -> bool {
        self.report().ready
    }
}

// === impl HealthReport ===

impl HealthReport {
    /// The report as JSON: `{"ready": .., "draining": .., "components": {name: ready}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let components: serde_json::Map<String, serde_json::Value> = self
            .components
            .iter()
            .map(|(n, ok)| (n.clone(), serde_json::Value::Bool(*ok)))
            .collect();
        serde_json::json!({
            "ready": self.ready,
            "draining": self.draining,
            "components": components,
        })
    }

    /// `ready`, or `not ready: <what>`.
    pub fn text(&self) -> String {
        if self.ready {
            return "ready\n".to_owned();
        }
        let mut waiting: Vec<&str> = self
            .components
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(n, _)| n.as_str())
            .collect();
        if self.draining {
            waiting.push("draining");
        }
        format!("not ready: {}\n", waiting.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_component_is_and_not_draining() {
        let health = Health::default();
        assert!(health.is_ready(), "nothing to wait for");
        let synced = health.add_flag("databroker sync");
        let report = health.report();
        assert!(!report.ready);
        assert_eq!(report.text(), "not ready: databroker sync\n");
        synced.store(true, Ordering::Relaxed);
        let shared = health.clone();
        assert!(shared.is_ready(), "clones share the state");
        health.set_draining();
        let draining = shared.report();
        assert!(!draining.ready);
        assert_eq!(draining.to_json()["draining"], true);
        assert_eq!(draining.to_json()["components"]["databroker sync"], true);
    }
}
