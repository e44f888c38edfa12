//! A throw-away PostgreSQL server for tests, or the one `DATABASE_URL` names.
//!
//! [`shared`] starts one private server per test process on first use (from the installed
//! binaries, `/usr/lib/postgresql/<newest>/bin` or `PG_BIN`), on 127.0.0.1 and a free port,
//! with `trust` auth and a temporary data directory. Each test asks it for a fresh database
//! ([`Postgres::create_database`]), so tests are independent and run in parallel. A test that
//! restarts the server ([`Postgres::restart`]) starts its own with [`Postgres::start`].
//!
//! No server outlives the test process: `postgres` runs under a small shell that holds the
//! read end of a pipe from the test process; when that closes (the owner dropped, or the test
//! process exited or crashed) the shell stops `postgres` (fast shutdown) and removes the data
//! directory. When running as root, the server runs as the `postgres` OS user.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context as _;

use crate::wait;

/// How long the server may take to start or stop.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A PostgreSQL server: private (started here) or external (`DATABASE_URL`).
#[derive(Debug)]
pub struct Postgres {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    External { url: String },
    Private(Mutex<Private>),
}

#[derive(Debug)]
struct Private {
    dir: PathBuf,
    port: u16,
    /// The shell watching our pipe; `None` while stopped.
    running: Option<(Child, ChildStdin)>,
}

/// A database created for one test; dropped (best effort) with this value.
#[derive(Debug)]
pub struct Database {
    name: String,
    url: String,
    admin: String,
}

/// The server shared by every test of this process, started on first use.
pub fn shared() -> &'static Postgres {
    static SHARED: OnceLock<Postgres> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Postgres {
            kind: Kind::External { url },
        },
        _ => Postgres::start().expect("cannot start a private PostgreSQL server"),
    })
}

/// A fresh database on the shared server.
pub fn database() -> anyhow::Result<Database> {
    shared().create_database()
}

// === impl Postgres ===

impl Postgres {
    /// Starts a private server of its own (for tests that restart it).
    pub fn start() -> anyhow::Result<Postgres> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("portcullis-pg-")
            .tempdir()?
            .keep();
        let as_root = is_root();
        if as_root {
            run(Command::new("chown").arg("-R").arg("postgres:").arg(&dir))?;
        }
        run(as_postgres(as_root, bin.join("initdb"))
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(dir.join("data")))
        .context("initdb failed")?;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let mut private = Private {
                dir: dir.clone(),
                port,
                running: None,
            };
            match private.launch() {
                Ok(()) => {
                    return Ok(Postgres {
                        kind: Kind::Private(Mutex::new(private)),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("postgres did not start")))
    }

    /// The connection string of the server's `postgres` database.
    pub fn connection_string(&self) -> String {
        match &self.kind {
            Kind::External { url } => url.clone(),
            Kind::Private(p) => p.lock().expect("postgres lock").url("postgres"),
        }
    }

    /// Creates a new, empty database and returns it.
    pub fn create_database(&self) -> anyhow::Result<Database> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = self.connection_string();
        psql(&admin, &format!("CREATE DATABASE {name}"))?;
        let url = match &self.kind {
            Kind::External { url } => replace_database(url, &name),
            Kind::Private(p) => p.lock().expect("postgres lock").url(&name),
        };
        Ok(Database { name, url, admin })
    }

    /// Stops the server (fast shutdown: sessions are cut, committed data is kept) and starts
    /// it again on the same port and data. Only private servers can be restarted.
    pub fn restart(&self) -> anyhow::Result<()> {
        self.stop()?;
        self.resume()
    }

    /// Stops the server; [`Postgres::resume`] starts it again.
    pub fn stop(&self) -> anyhow::Result<()> {
        let Kind::Private(p) = &self.kind else {
            anyhow::bail!("cannot stop an external DATABASE_URL server");
        };
        p.lock().expect("postgres lock").stop()
    }

    /// Starts a stopped server again on the same port and data.
    pub fn resume(&self) -> anyhow::Result<()> {
        let Kind::Private(p) = &self.kind else {
            anyhow::bail!("cannot resume an external DATABASE_URL server");
        };
        p.lock().expect("postgres lock").launch()
    }

    /// Whether [`Postgres::restart`] works (not on `DATABASE_URL`).
    pub fn can_restart(&self) -> bool {
        matches!(self.kind, Kind::Private(_))
    }
}

// === impl Private ===

impl Private {
    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts `postgres` under the watching shell and waits until it accepts connections.
    fn launch(&mut self) -> anyhow::Result<()> {
        let bin = bin_dir()?;
        let data = self.dir.join("data");
        // $1 = postgres binary, $2 = data dir, $3 = port, $4 = dir to remove at the end.
        let script = r#"
            "$1" -D "$2" -p "$3" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$2" \
                -c fsync=off -c full_page_writes=off -c max_connections=400 \
                -c log_min_messages=warning >"$2/../server.log" 2>&1 &
            pid=$!
            cat >/dev/null
            kill -INT "$pid" 2>/dev/null
            wait "$pid"
            [ -f "$4/.remove" ] && rm -rf "$4"
            exit 0
        "#;
        let mut child = as_postgres(is_root(), "sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(bin.join("postgres"))
            .arg(&data)
            .arg(self.port.to_string())
            .arg(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start postgres")?;
        let stdin = child
            .stdin
            .take()
            .context("no pipe to the postgres shell")?;
        // Removal is armed only once a server ran: restarts keep the data.
        std::fs::write(self.dir.join(".remove"), b"")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let ready = wait::until(TIMEOUT, "postgres to accept connections", || {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(Err(anyhow::anyhow!("postgres exited with {status}")));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                return None;
            }
            let ok = Command::new("pg_isready")
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            ok.then_some(Ok(()))
        });
        match ready.and_then(|r| r) {
            Ok(()) => {
                self.running = Some((child, stdin));
                Ok(())
            }
            Err(e) => {
                drop(stdin);
                let _ = child.wait();
                let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                Err(e.context(log))
            }
        }
    }

    fn stop(&mut self) -> anyhow::Result<()> {
        let Some((mut child, stdin)) = self.running.take() else {
            return Ok(());
        };
        // Keep the data across this stop.
        let _ = std::fs::remove_file(self.dir.join(".remove"));
        drop(stdin);
        wait::until(TIMEOUT, "postgres to stop", || {
            child.try_wait().ok().flatten()
        })?;
        Ok(())
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        if self.running.is_some() {
            let _ = self.stop();
        }
        let _ = Command::new("rm").arg("-rf").arg(&self.dir).status();
    }
}

// === impl Database ===

impl Database {
    /// The connection string of this database.
    pub fn connection_string(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

// === helpers ===

fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (/usr/lib/postgresql); set PG_BIN or DATABASE_URL")?
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .context("no PostgreSQL version under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `program` run as the `postgres` user when we are root (postgres refuses to run as root).
fn as_postgres(as_root: bool, program: impl AsRef<std::ffi::OsStr>) -> Command {
    if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let out = command.output()?;
    anyhow::ensure!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let mut child = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run psql")?;
    child
        .stdin
        .take()
        .context("psql stdin")?
        .write_all(sql.as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// A port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `url` with its database path replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(i) if i > base.find("//").map_or(0, |j| j + 1) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            replace_database("postgres://u:p@h:5/db?sslmode=disable", "t"),
            "postgres://u:p@h:5/t?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://u@h", "t"), "postgres://u@h/t");
    }
}
