//! A Kafka-protocol broker of the test's own: `tansu` on a free port of 127.0.0.1, killed
//! when dropped, with in-memory storage, or with its storage in an S3 bucket
//! (`object_store.rs`) so that it can be stopped and started again with its topics, messages
//! and committed offsets. `.ci/run` installs it (`cargo install tansu`).
//!
//! Without `tansu` on the `PATH` the Kafka tests say so loudly and pass, except under CI
//! (`CI` set), where they fail.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;

pub struct Broker {
    child: Option<Child>,
    port: u16,
    /// Where it keeps its data: `memory://tansu/`, or an S3 bucket's URL and the variables
    /// that point tansu at the store.
    storage: String,
    env: Vec<(String, String)>,
}

impl Broker {
    /// A broker, or `None` (after a loud message) when `tansu` is missing outside CI.
    pub fn start() -> Option<Self> {
        Self::start_with("memory://tansu/".to_owned(), Vec::new())
    }

    /// A broker keeping its data in `store`, which outlives it: [`Broker::restart`] brings
    /// the same topics, messages and offsets back.
    pub fn start_persistent(store: &super::object_store::ObjectStore) -> Option<Self> {
        Self::start_with(store.storage_url(), store.env())
    }

    fn start_with(storage: String, env: Vec<(String, String)>) -> Option<Self> {
        static LOUD: std::sync::Once = std::sync::Once::new();
        if !installed() {
            let ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty());
            assert!(
                !ci,
                "the Kafka tests need `tansu` on the PATH; .ci/run installs it \
                 (cargo install --locked tansu --no-default-features --features dynostore)"
            );
            LOUD.call_once(|| {
                use std::io::Write;
                let _ = write!(
                    std::io::stderr(),
                    "\n**********************************************************************\n\
                     SKIPPED: the Kafka tests (no `tansu` broker on the PATH).\n\
                     Install it: cargo install --locked tansu --no-default-features --features dynostore\n\
                     **********************************************************************\n\n"
                );
            });
            return None;
        }
        // Binding port 0 finds a free port; another process may take it before tansu does,
        // so a broker that exits at once is tried again on another port.
        for _ in 0..5 {
            let port = free_port();
            if let Some(child) = launch(port, &storage, &env) {
                return Some(Self {
                    child: Some(child),
                    port,
                    storage,
                    env,
                });
            }
        }
        panic!("tansu did not start on any of 5 free ports");
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates `topics` with one partition each.
    pub async fn create_topics(&self, topics: &[&str]) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("admin client");
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|name| NewTopic::new(name, 1, TopicReplication::Fixed(1)))
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin
            .create_topics(&new, &options)
            .await
            .expect("create topics")
        {
            result.expect("topic created");
        }
    }

    /// Starts the stopped broker again on its port, with its storage.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the broker is running");
        // The port was the broker's a moment ago; give the kernel a few tries to release it.
        for _ in 0..50 {
            if let Some(child) = launch(self.port, &self.storage, &self.env) {
                self.child = Some(child);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("tansu did not start again on port {}", self.port);
    }

    /// Kills the broker (SIGKILL, as in a crash). Memory storage is gone with it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn installed() -> bool {
    Command::new("tansu")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Starts tansu on `port`; `None` when it exited instead of accepting connections.
fn launch(port: u16, storage: &str, env: &[(String, String)]) -> Option<Child> {
    let url = format!("tcp://127.0.0.1:{port}");
    let mut child = Command::new("tansu")
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", storage])
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run tansu");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(child);
        }
        if child.try_wait().expect("tansu status").is_some() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("tansu on port {port} did not accept connections");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
