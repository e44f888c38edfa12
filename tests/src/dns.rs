//! A real DNS server for tests: Debian's `dnsmasq` on `127.0.0.1:<free port>`, answering
//! A/AAAA records from a hosts file the test rewrites ([`DnsServer::set`] rewrites it and
//! sends `SIGHUP`, on which dnsmasq re-reads it). Killed when dropped.
//!
//! Loopback aliases (`127.0.0.2`, `127.0.0.3`, ...) need no setup on Linux, so replicas of a
//! service can share one port on different addresses: [`bind_same_port`].

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// Where Debian installs dnsmasq (`scripts/setup` installs it).
const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// A running dnsmasq serving the names of its hosts file.
#[derive(Debug)]
pub struct DnsServer {
    child: Child,
    addr: SocketAddr,
    hosts: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl DnsServer {
    /// Starts dnsmasq answering `records` (name → address; a name may appear several
    /// times) and nothing else. Waits until it accepts queries.
    pub fn start(records: &[(&str, IpAddr)]) -> anyhow::Result<DnsServer> {
        if !Path::new(DNSMASQ).exists() {
            bail!("{DNSMASQ} is missing: run scripts/setup (Debian package dnsmasq)");
        }
        let dir = tempfile::tempdir()?;
        // dnsmasq drops root privileges: the files it re-reads must be readable by anyone.
        set_mode(dir.path(), 0o755)?;
        let hosts = dir.path().join("hosts");
        write_hosts(&hosts, records)?;
        let log = dir.path().join("dnsmasq.log");
        let mut last_error = None;
        for _ in 0..10 {
            let port = free_udp_and_tcp_port()?;
            match spawn(&hosts, &log, port) {
                Ok(child) => {
                    return Ok(DnsServer {
                        child,
                        addr: SocketAddr::from(([127, 0, 0, 1], port)),
                        hosts,
                        log,
                        _dir: dir,
                    });
                }
                // Most likely someone took the port in between: try another.
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("dnsmasq did not start")))
    }

    /// The server's address, for `dns_resolvers`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces every record with `records` and tells dnsmasq (`SIGHUP`). dnsmasq applies it
    /// within milliseconds; tests wait for the effect they expect.
    pub fn set(&self, records: &[(&str, IpAddr)]) -> anyhow::Result<()> {
        write_hosts(&self.hosts, records)?;
        self.signal("-HUP")
    }

    /// Freezes dnsmasq (`SIGSTOP`): queries go unanswered and time out, like a DNS server
    /// that became unreachable. Dropping the server still kills it.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal("-STOP")
    }

    fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([signal, &pid])
            .status()
            .context("cannot run kill")?;
        if !status.success() {
            bail!("kill {signal} {pid} failed: {status}");
        }
        Ok(())
    }

    /// What dnsmasq logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Binds a TCP listener on every address of `ips`, all on the same port (one service URL
/// names one port; its replicas sit on different loopback addresses). Retries with another
/// port when one is taken on some address.
pub fn bind_same_port(ips: &[IpAddr]) -> anyhow::Result<Vec<TcpListener>> {
    let Some((first, rest)) = ips.split_first() else {
        return Ok(Vec::new());
    };
    for _ in 0..50 {
        let listener = TcpListener::bind((*first, 0))?;
        let port = listener.local_addr()?.port();
        let mut listeners = vec![listener];
        for ip in rest {
            match TcpListener::bind((*ip, port)) {
                Ok(listener) => listeners.push(listener),
                Err(_) => break,
            }
        }
        if listeners.len() == ips.len() {
            return Ok(listeners);
        }
    }
    bail!("no port free on all of {ips:?}")
}

fn spawn(hosts: &Path, log: &Path, port: u16) -> anyhow::Result<Child> {
    let log_file = std::fs::File::create(log)?;
    let mut child = Command::new(DNSMASQ)
        .arg("--no-daemon")
        .arg("--conf-file=/dev/null")
        .arg("--no-resolv")
        .arg("--no-hosts")
        .arg("--no-negcache")
        .arg(format!("--addn-hosts={}", hosts.display()))
        .arg("--listen-address=127.0.0.1")
        .arg("--bind-interfaces")
        .arg(format!("--port={port}"))
        .arg("--pid-file=")
        .arg("--log-facility=-")
        .arg("--log-queries")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .context("cannot start dnsmasq")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait()? {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            bail!("dnsmasq exited with {status}: {log}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("dnsmasq did not listen on port {port} within 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
fn free_udp_and_tcp_port() -> anyhow::Result<u16> {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no port free for both UDP and TCP")
}

/// Writes the hosts file atomically (dnsmasq never reads half of it).
fn write_hosts(path: &Path, records: &[(&str, IpAddr)]) -> anyhow::Result<()> {
    let mut text = String::new();
    for (name, ip) in records {
        writeln!(text, "{ip} {name}")?;
    }
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text)?;
    set_mode(&partial, 0o644)?;
    std::fs::rename(&partial, path)?;
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}
