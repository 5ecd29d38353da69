//! A `redis-server` of the test's own: on a free port of 127.0.0.1 (never the shared 6379),
//! in a temporary directory, stopped when dropped. `.ci/run` installs `redis-server`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    durable: bool,
}

impl RedisServer {
    /// A server that keeps nothing on disk.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// A server with an append-only file synced on every write, so [`RedisServer::restart`]
    /// finds the data again.
    pub fn start_durable() -> Self {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for redis-server");
        // Binding port 0 finds a free port; another process may take it before redis-server
        // does, so a server that exits at once is tried again on another port.
        for _ in 0..5 {
            let port = free_port();
            if let Some(child) = launch(port, &dir, durable) {
                return Self {
                    child: Some(child),
                    port,
                    dir,
                    durable,
                };
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Waits (at most 10 s, polling) until `key` exists: a turn in flight has taken a lease,
    /// say. Panics with `what` when it never appears.
    pub async fn wait_for_key(&self, key: &str, what: &str) {
        let mut redis = redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let exists: bool = redis::cmd("EXISTS")
                .arg(key)
                .query_async(&mut redis)
                .await
                .unwrap();
            if exists {
                return;
            }
            assert!(Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Kills the server (SIGKILL: nothing gets to flush, as in a crash).
    pub fn stop(&mut self) {
        self.kill();
    }

    /// Starts it again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        let child = launch(self.port, &self.dir, self.durable);
        assert!(
            child.is_some(),
            "redis-server did not come back on port {}",
            self.port
        );
        self.child = child;
    }

    /// Freezes the server (SIGSTOP), as a stall would: connections stay open and nothing is
    /// answered until [`RedisServer::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("redis-server is running").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // A paused server does not die of SIGKILL until it runs again.
        if self.child.is_some() {
            let _ = Command::new("kill")
                .args([
                    "-CONT",
                    &self.child.as_ref().map_or(0, Child::id).to_string(),
                ])
                .status();
        }
        self.kill();
    }
}

/// Starts redis-server on `port`; `None` when it exited instead of answering PING.
fn launch(port: u16, dir: &TempDir, durable: bool) -> Option<Child> {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", if durable { "yes" } else { "no" }])
        .args(["--appendfsync", "always"])
        .arg("--dir")
        .arg(dir.path())
        .args(["--logfile", "redis.log"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run redis-server ({error}); install it (`apt-get install redis-server`): the Redis store's tests start their own on a free port"
            )
        });
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if answers_ping(port) {
            return Some(child);
        }
        if child.try_wait().expect("redis-server status").is_some() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("redis-server on port {port} did not answer PING");
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut answer = [0_u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && &answer == b"+PONG\r\n"
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
