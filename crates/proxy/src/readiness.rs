//! Readiness (`/readyz`): ready when every registered component says so and the proxy is not
//! draining. Components are registered by whoever starts the proxy — in all-in-one mode, the
//! authorize replica's initial databroker sync — so a load balancer sends no traffic before
//! sessions can be checked, and none once shutdown has begun.

use std::sync::{Arc, RwLock};

/// A component's readiness, asked at each `/readyz`.
pub type ReadyCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// The registered components.
#[derive(Default)]
pub(crate) struct Readiness {
    checks: RwLock<Vec<(String, ReadyCheck)>>,
}

/// One answer of `/readyz`.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) ready: bool,
    pub(crate) draining: bool,
    pub(crate) components: Vec<(String, bool)>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .checks
            .read()
            .map(|c| c.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default();
        f.debug_struct("Readiness")
            .field("components", &names)
            .finish()
    }
}

impl Readiness {
    pub(crate) fn add(&self, name: String, check: ReadyCheck) {
        if let Ok(mut checks) = self.checks.write() {
            checks.push((name, check));
        }
    }

    pub(crate) fn report(&self, draining: bool) -> Report {
        let components: Vec<(String, bool)> = self
            .checks
            .read()
            .map(|c| c.iter().map(|(n, check)| (n.clone(), check())).collect())
            .unwrap_or_default();
        Report {
            ready: !draining && components.iter().all(|(_, ok)| *ok),
            draining,
            components,
        }
    }
}

impl Report {
    /// `{"ready": .., "draining": .., "components": {name: ready}}`.
    pub(crate) fn json(&self) -> String {
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
        .to_string()
    }

    /// `ready`, or `not ready: <what>`.
    pub(crate) fn text(&self) -> String {
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
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn ready_only_when_every_component_is_and_not_draining() {
        let readiness = Readiness::default();
        assert!(readiness.report(false).ready, "nothing to wait for");
        let synced = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&synced);
        readiness.add(
            "databroker sync".into(),
            Arc::new(move || flag.load(Ordering::Relaxed)),
        );
        let report = readiness.report(false);
        assert!(!report.ready);
        assert_eq!(report.text(), "not ready: databroker sync\n");
        synced.store(true, Ordering::Relaxed);
        assert!(readiness.report(false).ready);
        let draining = readiness.report(true);
        assert!(!draining.ready);
        assert!(draining.json().contains("\"draining\":true"));
    }
}
