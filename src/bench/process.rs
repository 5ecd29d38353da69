//! The servers under test run as child processes of the driver, so their CPU time and peak
//! memory are their own, read from `/proc/<pid>/`. Linux only for those figures; elsewhere
//! they are reported as unknown.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The configuration the engine is benchmarked with (see the file for what differs from
/// the shipped `config.yaml`, and why).
pub const BENCH_CONFIG: &str = include_str!("../../bench/config.yaml");

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ: 100 on every Linux port).
const TICKS_PER_SECOND: f64 = 100.0;

/// A server the driver started; killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub url: String,
    pub log: PathBuf,
}

/// Memory of a process, in KiB, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Memory {
    /// Peak resident set (`VmHWM`).
    pub peak_rss_kib: u64,
    /// Resident set now (`VmRSS`).
    pub rss_kib: u64,
}

/// A free port on 127.0.0.1 (the OS picks it; it is free again when this returns).
pub fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

impl Server {
    /// Starts `exe` with `args`, its output going to `log`, and waits until `/healthz`
    /// answers 200. The environment's `RUST_LOG` and `COLLOQUY__…` overrides are removed,
    /// so the server runs with exactly the configuration it is given.
    pub async fn start(
        exe: &Path,
        args: &[String],
        port: u16,
        log: PathBuf,
    ) -> Result<Self, String> {
        let output = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let errors = output.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(exe);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .env_remove("RUST_LOG");
        for (name, _) in std::env::vars() {
            if name.starts_with(crate::config::ENV_PREFIX) {
                command.env_remove(name);
            }
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready(Duration::from_secs(30)).await?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_ready(&self, within: Duration) -> Result<(), String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + within;
        let health = format!("{}/healthz", self.url);
        while Instant::now() < deadline {
            if let Ok(response) = client.get(&health).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        Err(format!(
            "the server did not come up within {within:?}; its output:\n{log}"
        ))
    }

    pub fn memory(&self) -> Option<Memory> {
        memory_of(&format!("/proc/{}/status", self.pid()))
    }

    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds_of(&format!("/proc/{}/stat", self.pid()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// This process's memory.
pub fn own_memory() -> Option<Memory> {
    memory_of("/proc/self/status")
}

/// This process's CPU time (user + system, all threads), in seconds.
pub fn own_cpu_seconds() -> Option<f64> {
    cpu_seconds_of("/proc/self/stat")
}

fn memory_of(path: &str) -> Option<Memory> {
    let status = std::fs::read_to_string(path).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some(Memory {
        peak_rss_kib: field("VmHWM:")?,
        rss_kib: field("VmRSS:")?,
    })
}

fn cpu_seconds_of(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces; fields after its `)` are plain.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

/// The machine, for reports: CPUs, CPU model, memory.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_mib: u64,
    pub kernel: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map_or_else(
            || "unknown".to_owned(),
            |rest| rest.trim_start_matches([' ', '\t', ':']).to_owned(),
        );
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_mib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib / 1024);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned());
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        cpu_model,
        memory_mib,
        kernel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_figures() {
        if cfg!(target_os = "linux") {
            let memory = own_memory().unwrap();
            assert!(memory.peak_rss_kib >= memory.rss_kib && memory.rss_kib > 0);
            assert!(own_cpu_seconds().unwrap() >= 0.0);
        }
    }

    #[test]
    fn the_bench_config_is_valid() {
        let dir =
            std::env::temp_dir().join(format!("colloquy-bench-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.yaml");
        std::fs::write(&path, BENCH_CONFIG).unwrap();
        let config = crate::config::Config::load(Some(&path), Vec::new()).unwrap();
        assert!(!config.auth.enabled);
        assert!(config.limits.per_ip.per_second >= 1_000_000);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
