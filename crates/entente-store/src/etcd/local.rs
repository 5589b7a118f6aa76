//! A real etcd cluster on loopback, started from the `etcd` binary: for tests, benchmarks and trying the pool
//! on one machine.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use entente_dss::StoreError;

/// How long a member may take to join a quorum.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    process: Option<Child>,
}

/// Members are killed when this is dropped.
pub struct LocalEtcd {
    binary: PathBuf,
    members: Vec<Member>,
    initial_cluster: String,
    token: String,
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

fn free_port() -> Result<u16, StoreError> {
    Ok(TcpListener::bind("127.0.0.1:0").map_err(io)?.local_addr().map_err(io)?.port())
}

impl LocalEtcd {
    /// Starts `size` members with their data under `dir` and waits until every one answers. The binary is
    /// `$ENTENTE_ETCD` or `etcd` on the `PATH`.
    pub fn start(dir: &Path, size: usize) -> Result<LocalEtcd, StoreError> {
        let binary = std::env::var_os("ENTENTE_ETCD").map_or_else(|| PathBuf::from("etcd"), PathBuf::from);
        let mut members = Vec::with_capacity(size);
        for n in 0..size {
            members.push(Member {
                name: format!("m{n}"),
                client_port: free_port()?,
                peer_port: free_port()?,
                data_dir: dir.join(format!("m{n}")),
                process: None,
            });
        }
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let token = format!("entente-{}", std::process::id());
        let mut cluster = LocalEtcd { binary, members, initial_cluster, token };
        for n in 0..size {
            cluster.launch(n, "new")?;
        }
        for n in 0..size {
            cluster.wait_ready(n)?;
        }
        Ok(cluster)
    }

    /// Client URLs of every member, alive or not.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| format!("http://127.0.0.1:{}", m.client_port)).collect()
    }

    fn launch(&mut self, n: usize, state: &str) -> Result<(), StoreError> {
        let m = &self.members[n];
        let client = format!("http://127.0.0.1:{}", m.client_port);
        let peer = format!("http://127.0.0.1:{}", m.peer_port);
        let child = Command::new(&self.binary)
            .args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&m.data_dir)
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &self.initial_cluster, "--initial-cluster-state", state])
            .args(["--initial-cluster-token", &self.token])
            // History older than an hour is compacted, so it does not grow without bound.
            .args(["--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h"])
            .args(["--logger", "zap", "--log-outputs", "stderr", "--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| io(format!("cannot start {} (install etcd-server): {e}", self.binary.display())))?;
        self.members[n].process = Some(child);
        Ok(())
    }

    fn wait_ready(&self, n: usize) -> Result<(), StoreError> {
        let port = self.members[n].client_port;
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if health(port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(io(format!("etcd member {} did not become healthy on port {port}", self.members[n].name)))
    }

    /// Kills member `n` with SIGKILL, as a crash would.
    pub fn kill(&mut self, n: usize) {
        if let Some(mut child) = self.members[n].process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops member `n` with SIGSTOP, as a stalled machine would: it keeps its connections but answers nothing.
    pub fn pause(&self, n: usize) -> Result<(), StoreError> {
        self.signal(n, "-STOP")
    }

    /// Lets member `n` run again after [`LocalEtcd::pause`].
    pub fn resume(&self, n: usize) -> Result<(), StoreError> {
        self.signal(n, "-CONT")
    }

    fn signal(&self, n: usize, signal: &str) -> Result<(), StoreError> {
        let Some(child) = &self.members[n].process else { return Ok(()) };
        let status = Command::new("kill").arg(signal).arg(child.id().to_string()).status().map_err(io)?;
        if !status.success() {
            return Err(io(format!("kill {signal} of etcd member {} failed", self.members[n].name)));
        }
        Ok(())
    }

    /// The member that leads, as the running members report it.
    pub fn leader(&self) -> Option<usize> {
        let statuses: Vec<Option<(String, String)>> = self
            .members
            .iter()
            .map(|m| m.process.as_ref().and_then(|_| member_status(m.client_port)))
            .collect();
        let leader = statuses.iter().flatten().map(|(_, leader)| leader.clone()).next()?;
        statuses.iter().position(|s| s.as_ref().is_some_and(|(id, _)| *id == leader))
    }

    /// Starts member `n` again on its data and waits until it answers.
    pub fn restart(&mut self, n: usize) -> Result<(), StoreError> {
        self.kill(n);
        self.launch(n, "existing")?;
        self.wait_ready(n)
    }
}

/// True when the member at `port` reports a healthy cluster (it has a leader and a quorum).
fn health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    (answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")) && answer.contains("\"true\"")
}

/// A member's own id and its leader's, from etcd's JSON gateway (`/v3/maintenance/status`).
fn member_status(port: u16) -> Option<(String, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "POST /v3/maintenance/status HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    // The ids are 64-bit numbers, which the gateway writes as JSON strings.
    let field = |name: &str| {
        let start = answer.find(&format!("\"{name}\":\""))? + name.len() + 4;
        let end = start + answer[start..].find('"')?;
        Some(answer[start..end].to_owned())
    };
    Some((field("member_id")?, field("leader")?))
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        for n in 0..self.members.len() {
            self.kill(n);
        }
    }
}
