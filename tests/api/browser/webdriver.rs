//! Just enough of the W3C WebDriver protocol (JSON over HTTP) to drive headless Chromium
//! through Debian's `chromedriver`: a browser per test, on a free port, in a process group of
//! its own so that nothing it started outlives the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key WebDriver names an element reference by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for the page may take before the test fails. Generous: the browser shares
/// two cores with the compiler and other tests.
pub const WAIT: Duration = Duration::from_secs(30);

pub const ENTER: &str = "\u{E007}";
pub const TAB: &str = "\u{E004}";
pub const SHIFT: &str = "\u{E008}";
pub const ESCAPE: &str = "\u{E00C}";

/// `chromedriver` and `chromium` from the `PATH` (or `CHROMEDRIVER` and `CHROMIUM`), or why
/// there are none.
pub fn tools() -> Result<(PathBuf, PathBuf), String> {
    let find = |variable: &str, names: &[&str]| {
        if let Some(path) = std::env::var_os(variable) {
            return Some(PathBuf::from(path)).filter(|path| path.is_file());
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
            .find(|candidate| candidate.is_file())
    };
    let driver = find("CHROMEDRIVER", &["chromedriver"]);
    let browser = find("CHROMIUM", &["chromium", "chromium-browser"]);
    match (driver, browser) {
        (Some(driver), Some(browser)) => Ok((driver, browser)),
        (driver, browser) => {
            let missing: Vec<&str> = [
                (driver.is_none(), "chromedriver"),
                (browser.is_none(), "chromium"),
            ]
            .into_iter()
            .filter_map(|(missing, name)| missing.then_some(name))
            .collect();
            Err(format!("missing: {}", missing.join(", ")))
        }
    }
}

/// The driver process and its browser, killed (the whole process group) when dropped.
struct Driver {
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        let _ = self.child.wait();
    }
}

/// Browsers open at once: each is a few processes and a few hundred megabytes, on a machine
/// of two cores that runs the other tests beside them.
static BROWSERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// One browser window.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    _driver: Driver,
    _slot: tokio::sync::SemaphorePermit<'static>,
}

/// An element of the page, by WebDriver's reference.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium through it.
    pub async fn start(driver: &Path, chromium: &Path) -> Browser {
        let slot = BROWSERS
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        // A port is free when chosen; another process may take it before chromedriver does,
        // so a failed start tries another.
        for _ in 0..5 {
            let port = crate::helpers::closed_port();
            let child = {
                use std::os::unix::process::CommandExt;
                Command::new(driver)
                    .arg(format!("--port={port}"))
                    .arg("--allowed-ips=127.0.0.1")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .expect("chromedriver starts")
            };
            let process = Driver { child };
            let base = format!("http://127.0.0.1:{port}");
            if !ready(&http, &base).await {
                continue;
            }
            let capabilities = json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new",
                        // Tests run as root in a container: Chromium's sandbox needs user
                        // namespaces it may not have.
                        "--no-sandbox",
                        "--disable-dev-shm-usage",
                        "--disable-gpu",
                        "--no-first-run",
                        "--disable-extensions",
                        "--disable-background-networking",
                        "--window-size=900,800",
                        "--lang=en-US",
                    ],
                },
            }}});
            let answer: Value = http
                .post(format!("{base}/session"))
                .json(&capabilities)
                .send()
                .await
                .expect("new session")
                .json()
                .await
                .expect("a JSON answer");
            let session = answer["value"]["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("no browser session: {answer}"))
                .to_owned();
            return Browser {
                http,
                base,
                session,
                _driver: process,
                _slot: slot,
            };
        }
        panic!("chromedriver did not start on any of five ports");
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("webdriver answers");
        let status = response.status();
        let answer: Value = response.json().await.expect("a JSON answer");
        assert!(status.is_success(), "webdriver {path}: {status} {answer}");
        answer["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn refresh(&self) {
        self.post("/refresh", json!({})).await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// The element `script` returns, waiting until it returns one.
    pub async fn wait_element(&self, what: &str, script: &str) -> Element {
        let started = Instant::now();
        loop {
            let value = self.execute(script, json!([])).await;
            if let Some(id) = value.get(ELEMENT).and_then(Value::as_str) {
                return Element(id.to_owned());
            }
            assert!(
                started.elapsed() < WAIT,
                "waited {WAIT:?} for {what} (last: {value}); the page says: {}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `script` (given `args`) returns true.
    pub async fn wait_until(&self, what: &str, script: &str, args: Value) {
        let started = Instant::now();
        loop {
            if self.execute(script, args.clone()).await == Value::Bool(true) {
                return;
            }
            assert!(
                started.elapsed() < WAIT,
                "waited {WAIT:?} for {what}; the page says: {}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn click(&self, element: &Element) {
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .await;
    }

    /// Types `text` into `element` as a user would (keys, focus and events included).
    pub async fn type_into(&self, element: &Element, text: &str) {
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await;
    }

    /// Presses `keys` together (a chord such as Shift+Tab) on whatever has the focus.
    pub async fn press(&self, keys: &[&str]) {
        let mut actions = Vec::new();
        for key in keys {
            actions.push(json!({ "type": "keyDown", "value": key }));
        }
        for key in keys.iter().rev() {
            actions.push(json!({ "type": "keyUp", "value": key }));
        }
        self.post(
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .await;
    }

    /// The visible text of the whole page.
    pub async fn page_text(&self) -> String {
        self.execute(
            "return document.body ? document.body.innerText : '';",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Cuts the browser off the network, or puts it back.
    pub async fn set_offline(&self, offline: bool) {
        self.post(
            "/chromium/network_conditions",
            json!({ "network_conditions": {
                "offline": offline,
                "latency": 0,
                "download_throughput": 1_000_000,
                "upload_throughput": 1_000_000,
            }}),
        )
        .await;
    }

    /// A PNG of the window, saved as `name` in the screenshot folder.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = decode_base64(encoded.as_str().expect("base64 PNG"));
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Ends the browser session (the process group goes when `self` is dropped).
    pub async fn close(self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
    }
}

/// Where screenshots go: `COLLOQUY_SCREENSHOTS`, or `target/tmp/screenshots`.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("COLLOQUY_SCREENSHOTS").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"),
        PathBuf::from,
    )
}

async fn ready(http: &reqwest::Client, base: &str) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(response) = http.get(format!("{base}/status")).send().await
            && let Ok(status) = response.json::<Value>().await
            && status["value"]["ready"] == Value::Bool(true)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut bytes = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        let [_, a, b, c] = n.to_be_bytes();
        bytes.extend_from_slice(&[a, b, c][..chunk.len() - 1]);
    }
    bytes
}

#[test]
fn decodes_base64() {
    assert_eq!(decode_base64("aGk="), b"hi");
    assert_eq!(decode_base64("aGVsbG8gd29ybGQ="), b"hello world");
    assert_eq!(decode_base64("YWJj"), b"abc");
}
