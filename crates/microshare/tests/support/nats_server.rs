//! `nats-server` processes for tests and benches: JetStream on loopback, on free ports, with
//! their own storage directories, stopped when dropped. A cluster of three for replicated
//! streams. No mock: the real server (Debian's `nats-server` 2.9, or newer).
//!
//! Shared by the tests of lorafield-microshare, of the CLI and by the benches
//! (`#[path = ...] mod nats_server;`).

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server binary: `$NATS_SERVER`, or `nats-server` on the `PATH`.
pub fn binary() -> PathBuf {
    let bin = std::env::var_os("NATS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nats-server"));
    match Command::new(&bin).arg("--version").output() {
        Ok(out) if out.status.success() => bin,
        _ => panic!(
            "{} was not found or does not run: these tests need a real NATS server. Run the \
             project's test script (.ci/test), which installs it, or `apt-get install \
             nats-server` (Debian), or set NATS_SERVER to its path",
            bin.display()
        ),
    }
}

/// How many times a server is started when a port chosen free was taken by another socket
/// before the server could bind it (a connection elsewhere in the test run got it as its
/// ephemeral port): each attempt chooses new ports.
const ATTEMPTS: usize = 5;

/// Whether a failed start says a port was taken (then new ports are worth a try).
fn port_taken(message: &str) -> bool {
    message.contains("address already in use")
}

/// A free TCP port on 127.0.0.1 (free when asked; the server binds it right after, and a start
/// that finds it taken meanwhile is tried again on new ports).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// How to stop a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM: it shuts JetStream down cleanly.
    Term,
    /// SIGKILL: it dies on the spot.
    Kill,
}

/// One `nats-server` with JetStream, on 127.0.0.1.
pub struct NatsServer {
    child: Option<Child>,
    /// The client port.
    pub port: u16,
    /// The monitoring port (`/healthz`).
    pub http_port: u16,
    args: Vec<String>,
    dir: PathBuf,
    _owned: Option<tempfile::TempDir>,
    name: String,
}

impl NatsServer {
    /// Starts a single server with its own temporary storage, and waits until JetStream is
    /// ready.
    pub fn start() -> NatsServer {
        NatsServer::start_with(&[])
    }

    /// [`NatsServer::start`] with more arguments (`--user`, `--pass`, ...).
    pub fn start_with(extra: &[&str]) -> NatsServer {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        for attempt in 1..=ATTEMPTS {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let mut s = NatsServer::spawn("single", dir.path(), extra.clone());
            match s.ready(Duration::from_secs(20)) {
                Ok(()) => {
                    s._owned = Some(dir);
                    return s;
                }
                Err(message) if attempt < ATTEMPTS && port_taken(&message) => continue,
                Err(message) => panic!("{message}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Starts a server named `name` storing in `dir`, with `extra` arguments; does not wait.
    fn spawn(name: &str, dir: &Path, extra: Vec<String>) -> NatsServer {
        let port = free_port();
        let http_port = free_port();
        let mut args: Vec<String> = [
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            &http_port.to_string(),
            "-js",
            "-sd",
            &dir.join("store").display().to_string(),
            "-n",
            name,
            "-l",
            &dir.join("server.log").display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra);
        let mut s = NatsServer {
            child: None,
            port,
            http_port,
            args,
            dir: dir.to_path_buf(),
            _owned: None,
            name: name.to_string(),
        };
        s.launch();
        s
    }

    fn launch(&mut self) {
        let child = Command::new(binary())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
    }

    /// Its server name (`single`, or `n0`, `n1`, ... in a cluster).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Whether `/healthz` answers 200 (JetStream is up and, on a cluster, current).
    pub fn healthy(&self) -> bool {
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.http_port)) else {
            return false;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let request = "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if conn.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut answer = String::new();
        let _ = conn.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
    }

    /// Waits until `/healthz` says ready; panics with the log after `limit`.
    pub fn wait_ready(&mut self, limit: Duration) {
        if let Err(message) = self.ready(limit) {
            panic!("{message}");
        }
    }

    /// Waits until `/healthz` says ready; says why not (with the log) if it exits or `limit`
    /// passes.
    fn ready(&mut self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!(
                    "nats-server {} exited ({status}) on start:\n{}",
                    self.name,
                    self.log()
                ));
            }
            if self.healthy() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "nats-server {} not ready after {limit:?}:\n{}",
            self.name,
            self.log()
        ))
    }

    /// Stops the server (SIGTERM or SIGKILL) and waits for it to exit (SIGKILL after 20 s
    /// if a SIGTERM is not enough).
    pub fn stop(&mut self, how: Stop) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        match how {
            Stop::Kill => drop(child.kill()),
            Stop::Term => {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(20) {
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
            }
        }
        let _ = child.wait();
    }

    /// Starts it again, on the same ports and storage; does not wait.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        self.launch();
    }

    /// Whether it runs.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Three servers in one cluster on loopback, each with JetStream and its own storage.
pub struct Cluster {
    /// The servers.
    pub nodes: Vec<NatsServer>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts a cluster of `n` (3 for replicated streams) and waits until every node says
    /// JetStream is ready.
    pub fn start(n: usize) -> Cluster {
        for attempt in 1..=ATTEMPTS {
            match Cluster::try_start(n) {
                Ok(cluster) => return cluster,
                Err(message) if attempt < ATTEMPTS && port_taken(&message) => continue,
                Err(message) => panic!("{message}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    fn try_start(n: usize) -> Result<Cluster, String> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let route_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let routes = route_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let nodes: Vec<NatsServer> = route_ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                let node_dir = dir.path().join(format!("n{i}"));
                std::fs::create_dir_all(&node_dir).expect("node directory");
                NatsServer::spawn(
                    &format!("n{i}"),
                    &node_dir,
                    vec![
                        "--cluster_name".into(),
                        "lorafield-test".into(),
                        "--cluster".into(),
                        format!("nats://127.0.0.1:{port}"),
                        "--routes".into(),
                        routes.clone(),
                    ],
                )
            })
            .collect();
        let mut cluster = Cluster { nodes, _dir: dir };
        for node in &mut cluster.nodes {
            node.ready(Duration::from_secs(60))?;
        }
        Ok(cluster)
    }

    /// Every node's URL, comma-separated (what `--queue` takes).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(NatsServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The logs of every node.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("--- {}\n{}", n.name, n.log()))
            .collect()
    }
}
