//! A TCP proxy in front of an etcd member that loses requests or answers on demand, for the tests of what the
//! store does when a transaction's outcome is unknown or an instance falls silent.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does with the bytes it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Forward,
    /// Requests reach etcd, its answers are dropped: a transaction commits and nobody hears of it.
    DropAnswers,
    /// Requests are dropped: nothing reaches etcd.
    DropRequests,
    /// Both are dropped, as for a process that was stopped (SIGSTOP) with its connections open.
    Silent,
}

pub(super) struct Proxy {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `upstream` (`http://host:port`).
    pub(super) async fn start(upstream: &str) -> std::io::Result<Proxy> {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let mode = Arc::new(Mutex::new(Mode::Forward));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (mode, connections) = (mode.clone(), connections.clone());
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = TcpStream::connect(&upstream).await else { continue };
                    let mode = mode.clone();
                    let connection = tokio::spawn(async move {
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        tokio::join!(
                            pump(client_read, server_write, mode.clone(), Mode::DropRequests),
                            pump(server_read, client_write, mode, Mode::DropAnswers),
                        );
                    });
                    connections.lock().unwrap_or_else(|p| p.into_inner()).push(connection);
                }
            })
        };
        Ok(Proxy { port, mode, connections, accept })
    }

    pub(super) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(super) fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner()) = mode;
    }

    /// Closes every connection, as a member that died or a network that failed would, and forwards again.
    pub(super) fn cut(&self) {
        for connection in self.connections.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            connection.abort();
        }
        self.set(Mode::Forward);
    }
}

/// Copies bytes from `from` to `to`, dropping them while the proxy is in `dropping` mode.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mode: Arc<Mutex<Mode>>,
    dropping: Mode,
) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let now = *mode.lock().unwrap_or_else(|p| p.into_inner());
        if now == dropping || now == Mode::Silent {
            continue;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
