//! Two `colloquy serve` processes on one Redis, and one of them killed (SIGKILL) in the middle
//! of a turn: the session survives, and the other process finishes the conversation once the
//! dead process's lease has run out.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::server::RedisServer;
use crate::helpers::dialogs_dir;

struct Serve {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Serve {
    /// Starts `colloquy serve` and waits until `/healthz` answers 200.
    async fn start(config: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_colloquy"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("colloquy serve starts");
        let serve = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let health = serve.client.get(serve.url("/healthz")).send().await;
            if health.is_ok_and(|h| h.status() == 200) {
                return serve;
            }
            assert!(Instant::now() < deadline, "colloquy serve did not come up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, id: &str, text: &str) -> reqwest::Result<(u16, Value)> {
        let response = self
            .client
            .post(self.url("/v1/webhook"))
            .json(&json!({ "session_id": "s", "message_id": id, "text": text }))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn code_sent_to(&self, to: &str) -> String {
        let outbox: Value = self
            .client
            .get(self.url(&format!("/v1/dev/outbox?to={to}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let text = outbox["emails"][0]["text"].as_str().expect("an email");
        text.split(|c: char| !c.is_ascii_digit())
            .find(|word| word.len() == 4)
            .expect("a code")
            .to_owned()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_turn_loses_no_session() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "auth: {{ enabled: false }}\n\
             dialogs: {{ dir: {dialogs:?} }}\n\
             sessions:\n  store: redis\n  redis: {{ url: {url:?}, lease_ttl: 1s }}\n\
             email: {{ outbox: {{ delay: 1s }} }}\n\
             otp: {{ secret: shared-secret-0123456789 }}\n\
             services: {{ bookings: {{ base_url: \"http://127.0.0.1:{port}/api\" }} }}\n",
            dialogs = dialogs_dir(),
            url = server.url(),
            port = crate::helpers::closed_port(),
        ),
    )
    .unwrap();
    let mut doomed = Serve::start(&config).await;
    let survivor = Serve::start(&config).await;
    assert_eq!(doomed.send("m1", "hi").await.unwrap().0, 200);

    // The email turn takes a second (the outbox's delay); kill the process while it runs.
    let in_flight = {
        let client = doomed.client.clone();
        let url = doomed.url("/v1/webhook");
        tokio::spawn(async move {
            client
                .post(url)
                .json(
                    &json!({ "session_id": "s", "message_id": "m2", "text": "alice@example.com" }),
                )
                .send()
                .await
        })
    };
    server
        .wait_for_key("colloquy:lease:{s}", "the turn never took its lease")
        .await;
    doomed.child.kill().unwrap();
    doomed.child.wait().unwrap();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the killed process never answered"
    );

    // The widget retries on the other instance: it waits out the dead lease, then runs the turn
    // on the session as last saved.
    let (status, answer) = survivor.send("m2", "alice@example.com").await.unwrap();
    assert_eq!(
        (status, answer["node"].as_str(), answer["turn"].as_u64()),
        (200, Some("ask_code"), Some(2)),
        "{answer}"
    );
    let code = survivor.code_sent_to("alice@example.com").await;
    let (status, done) = survivor.send("m3", &code).await.unwrap();
    assert_eq!(
        (status, done["result"].as_str()),
        (200, Some("authenticated"))
    );
}

/// `colloquy serve` on a config for the Redis at `url`, `extra` appended under `redis:`; its
/// exit code and standard error when it stops within `wait` (`None` while it keeps serving).
fn serve_briefly(url: &str, extra: &str, wait: Duration) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "auth: {{ enabled: false }}\n\
             dialogs: {{ dir: \"{dialogs}\" }}\n\
             sessions:\n  store: redis\n  redis: {{ url: {url:?}{extra} }}\n\
             services: {{ bookings: {{ base_url: \"http://127.0.0.1:{port}/api\" }} }}\n",
            dialogs = dialogs_dir().display(),
            port = crate::helpers::closed_port(),
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_colloquy"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .args(["--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("colloquy serve starts");
    let deadline = Instant::now() + wait;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr);
            return (status.code(), stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (None, String::new());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_redis_that_keeps_nothing_on_disk_is_refused_when_persistence_is_required() {
    let volatile = RedisServer::start();
    let (code, stderr) = serve_briefly(
        &volatile.url(),
        ", require_persistence: true",
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("Redis keeps nothing on disk"), "{stderr}");
    // On disk (AOF), it starts and serves.
    let durable = RedisServer::start_durable();
    // Past the check (made before serving), it would have stopped well within this.
    let (code, stderr) = serve_briefly(
        &durable.url(),
        ", require_persistence: true",
        Duration::from_secs(4),
    );
    assert_eq!(code, None, "it keeps serving: {stderr}");
}
