//! A real nginx (Debian's `/usr/sbin/nginx`) as a child process with a generated configuration
//! in a temporary directory; killed when dropped.
//!
//! nginx cannot take a listening socket from its parent, so [`Nginx::start`] picks a free port,
//! releases it and starts nginx on it, retrying if another process takes the port first.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// Debian's nginx binary (scripts/setup installs `nginx-light`).
pub const NGINX: &str = "/usr/sbin/nginx";

/// A running nginx.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with the configuration `config(dir, listen)` returns, where `dir` is the
    /// nginx prefix (for pid, logs and temporary paths) and `listen` the address to listen on.
    /// Waits until the address accepts connections.
    pub async fn start(config: impl Fn(&Path, SocketAddr) -> String) -> anyhow::Result<Nginx> {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let dir = tempfile::tempdir()?;
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let file = dir.path().join("nginx.conf");
            std::fs::write(&file, config(dir.path(), addr))?;
            let child = Command::new(NGINX)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&file)
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("run /usr/sbin/nginx (scripts/setup installs it)")?;
            let mut nginx = Nginx { child, addr, dir };
            match nginx.ready().await {
                Ok(()) => return Ok(nginx),
                Err(e) => last_error = e,
            }
        }
        anyhow::bail!("nginx did not start: {last_error}")
    }

    /// The address nginx listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id of the nginx master (workers are its children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The prefix directory (configuration, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    async fn ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited with {status}: {log}"));
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err("nginx did not listen within 10 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGKILL reaches the master only; workers notice their parent is gone and exit.
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
