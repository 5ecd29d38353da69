//! An S3-compatible object store of the test's own for tansu's storage: moto's server
//! (`moto_server`, from PyPI's `moto[server]`) on a free port of 127.0.0.1, with one bucket,
//! killed when dropped. tansu keeps no data in a directory (its storage is memory, S3 or
//! PostgreSQL), and memory storage is gone when the broker stops, so a broker restart with
//! its data needs a store that outlives it.
//!
//! Without `moto_server` on the `PATH` the test that needs it says so loudly and passes,
//! except under CI (`CI` set), where it fails; `.ci/run` installs it.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ObjectStore {
    child: Child,
    port: u16,
    bucket: &'static str,
}

impl ObjectStore {
    /// A store with an empty bucket, or `None` (after a loud message) without `moto_server`
    /// outside CI.
    pub async fn start() -> Option<Self> {
        if Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            let ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty());
            assert!(
                !ci,
                "the broker restart test needs `moto_server` on the PATH; .ci/run installs it (pip install 'moto[server]')"
            );
            let _ = write!(
                std::io::stderr(),
                "\n**********************************************************************\n\
                 SKIPPED: the Kafka broker restart test (no `moto_server` for tansu's S3 storage).\n\
                 Install it: pip install 'moto[server]'\n\
                 **********************************************************************\n\n"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run moto_server");
        let store = Self {
            child,
            port,
            bucket: "tansu",
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let created = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .put(format!("{}/{}", store.endpoint(), store.bucket))
            .send()
            .await
            .expect("bucket created");
        assert!(created.status().is_success(), "{}", created.status());
        Some(store)
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// tansu's `--storage-engine`.
    pub fn storage_url(&self) -> String {
        format!("s3://{}/", self.bucket)
    }

    /// The variables that point tansu's S3 client at this store.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }
}

impl Drop for ObjectStore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
