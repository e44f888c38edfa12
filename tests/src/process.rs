//! The real `portcullis` executable, started with a generated configuration.
//!
//! Configurations ask for port 0; the process logs a `listening` line with the bound address
//! of each service and a `started` line once every role is up, which is what [`Portcullis::start`]
//! waits for.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;

use crate::wait;

/// How long a process may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `portcullis` process; killed when dropped.
#[derive(Debug)]
pub struct Portcullis {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    addresses: HashMap<String, SocketAddr>,
    _dir: tempfile::TempDir,
}

/// An executable that [`executable`] returns instead of `portcullis-e2e` (set once, before the
/// first start): the load harness runs itself as portcullis.
static EXECUTABLE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Makes every later start run `path` (a binary that behaves as `portcullis` for `run`).
pub fn use_executable(path: PathBuf) {
    let _ = EXECUTABLE.set(path);
}

/// The executable built from this package (`portcullis-e2e`), next to the test binary.
pub fn executable() -> PathBuf {
    if let Some(path) = EXECUTABLE.get() {
        return path.clone();
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test> → target/<profile>/portcullis-e2e
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("tests run from target/<profile>/deps");
    dir.join("portcullis-e2e")
}

impl Portcullis {
    /// Starts `portcullis run` with `config` (YAML) and waits until it has started.
    pub fn start(config: &str) -> anyhow::Result<Portcullis> {
        Portcullis::start_with_env(config, &[])
    }

    /// Like [`Portcullis::start`], with extra environment variables.
    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> anyhow::Result<Portcullis> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("portcullis.yaml");
        std::fs::write(&file, config)?;
        let file = file.to_str().context("a UTF-8 temporary path")?.to_owned();
        Portcullis::start_command(&["run", "--config", &file], env, dir)
    }

    /// Starts `portcullis <args>` (a command that serves, like `dev`) and waits until it has
    /// started.
    pub fn start_args(args: &[&str]) -> anyhow::Result<Portcullis> {
        Portcullis::start_command(args, &[], tempfile::tempdir()?)
    }

    fn start_command(
        args: &[&str],
        env: &[(&str, &str)],
        dir: tempfile::TempDir,
    ) -> anyhow::Result<Portcullis> {
        let mut child = Command::new(executable())
            .args(args)
            .env("LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", executable().display()))?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().expect("log lock").push(line);
                }
            });
        }
        let mut process = Portcullis {
            child,
            lines,
            addresses: HashMap::new(),
            _dir: dir,
        };
        let started = wait::until(START_TIMEOUT, "portcullis to start", || {
            if process.has_log("started") {
                return Some(Ok(()));
            }
            match process.child.try_wait() {
                Ok(Some(status)) => Some(Err(status)),
                _ => None,
            }
        });
        match started {
            Ok(Ok(())) => {}
            Ok(Err(status)) => anyhow::bail!(
                "portcullis exited with {status} while starting:\n{}",
                process.log_text()
            ),
            Err(e) => anyhow::bail!("{e}:\n{}", process.log_text()),
        }
        for line in process.json_lines() {
            if line["message"] == "listening"
                && let (Some(service), Some(address)) =
                    (line["service"].as_str(), line["address"].as_str())
            {
                process
                    .addresses
                    .insert(service.to_owned(), address.parse()?);
            }
        }
        Ok(process)
    }

    /// The address the named service (`databroker`, `authorize`, `proxy`, ...) listens on.
    pub fn address(&self, service: &str) -> SocketAddr {
        *self
            .addresses
            .get(service)
            .unwrap_or_else(|| panic!("no {service} listener; have {:?}", self.addresses))
    }

    /// Every line the process has printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("log lock").clone()
    }

    /// Lines that are JSON log records.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// True when some log record's message is `message`.
    pub fn has_log(&self, message: &str) -> bool {
        self.json_lines().iter().any(|l| l["message"] == message)
    }

    fn log_text(&self) -> String {
        self.lines().join("\n")
    }

    /// The configuration file [`Portcullis::start`] wrote (rewrite it to test reloads).
    pub fn config_file(&self) -> PathBuf {
        self._dir.path().join("portcullis.yaml")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `SIGHUP` (reload the configuration).
    pub fn hangup(&self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -HUP failed");
        Ok(())
    }

    /// Sends SIGTERM and waits (up to 40 s) for the process to exit.
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        let child = &mut self.child;
        wait::until(Duration::from_secs(40), "portcullis to exit", || {
            child.try_wait().ok().flatten()
        })
    }
}

impl Portcullis {
    /// Sends SIGKILL and waits for the process to exit: every socket closes at once, with no
    /// draining and no goodbye to peers.
    pub fn kill(&mut self) -> anyhow::Result<ExitStatus> {
        self.child.kill()?;
        Ok(self.child.wait()?)
    }
}

impl Drop for Portcullis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
