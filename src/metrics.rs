//! Prometheus metrics, kept per engine (not in a process-global registry, so parallel tests
//! each see their own) and rendered as text for `GET /metrics`.
//!
//! Hot-path counters are plain atomics; labelled families (errors by code, emails by outcome)
//! use a short list under a read lock, touched once per event.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

/// Latency buckets, in seconds: from 100 µs to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0,
];

/// A cumulative histogram over [`LATENCY_BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&bound| seconds <= bound) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str, labels: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let total = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        #[allow(clippy::cast_precision_loss)]
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_sum{braces} {sum}\n{name}_count{braces} {total}"
        );
    }
}

/// One label set: `(name, value)` pairs.
type Labels = Vec<(&'static str, String)>;

/// A counter family with one label set per entry.
///
/// A family has a handful of label sets, each counted again and again: they sit in a short
/// list that is scanned under a read lock, so counting allocates nothing once a set exists.
#[derive(Debug, Default)]
pub struct Family {
    values: RwLock<Vec<(Labels, AtomicU64)>>,
}

impl Family {
    pub fn inc(&self, labels: &[(&'static str, &str)]) {
        let values = self.values.read().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, value)) = values.iter().find(|(key, _)| same_labels(key, labels)) {
            value.fetch_add(1, Ordering::Relaxed);
            return;
        }
        drop(values);
        let mut values = self.values.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have added it between the two locks.
        if let Some((_, value)) = values.iter().find(|(key, _)| same_labels(key, labels)) {
            value.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let key = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        values.push((key, AtomicU64::new(1)));
    }

    /// The value for one label set (0 when never incremented).
    pub fn get(&self, labels: &[(&'static str, &str)]) -> u64 {
        let values = self.values.read().unwrap_or_else(PoisonError::into_inner);
        values
            .iter()
            .find(|(key, _)| same_labels(key, labels))
            .map_or(0, |(_, value)| value.load(Ordering::Relaxed))
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let values = self.values.read().unwrap_or_else(PoisonError::into_inner);
        let mut rows: Vec<(String, u64)> = values
            .iter()
            .map(|(key, value)| {
                let labels: Vec<String> = key
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                    .collect();
                (labels.join(","), value.load(Ordering::Relaxed))
            })
            .collect();
        drop(values);
        rows.sort();
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

fn same_labels(key: &[(&'static str, String)], labels: &[(&'static str, &str)]) -> bool {
    key.len() == labels.len()
        && key
            .iter()
            .zip(labels)
            .all(|((a, x), (b, y))| a == b && x == y)
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Everything the engine and the HTTP layer count.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Turns run (duplicates excluded).
    pub turns: AtomicU64,
    pub turn_latency: Histogram,
    /// Deliveries answered from the idempotency record.
    pub duplicate_deliveries: AtomicU64,
    /// Sessions the store evicted to stay under its cap (copied from the store when rendering).
    pub sessions_evicted: AtomicU64,
    /// Turns ended by the transition cap.
    pub runaway_turns: AtomicU64,
    /// Requests answered with an error, by error code.
    pub errors: Family,
    /// Emails by sender and outcome (`sent`, `failed`).
    pub emails: Family,
    pub email_latency: Histogram,
    /// Texts by sender and outcome (`sent`, `invalid_number`, `opted_out`, `temporary`…).
    pub sms: Family,
    /// Texts the toll-fraud guard stopped, by reason (`country`, `premium_rate`,
    /// `prefix_cap`, `global_cap`).
    pub sms_blocked: Family,
    /// `otp.send` outcomes.
    pub otp_sends: Family,
    /// `otp.verify` outcomes.
    pub otp_verifications: Family,
    /// SendGrid answers, one per attempt, by status (`202`, `429`, `timeout`, `connect_error`…).
    pub sendgrid_responses: Family,
    /// SendGrid attempts followed by another one.
    pub sendgrid_retries: AtomicU64,
    /// The time of one SendGrid attempt.
    pub sendgrid_latency: Histogram,
    /// SendGrid sends by final outcome (`delivered`, `temporary`, `rejected`, `misconfigured`).
    pub sendgrid_sends: Family,
    /// Client connections open now.
    pub connections_open: AtomicU64,
    /// Connections answered 503 and closed because `server.max_connections` were open.
    pub connections_refused: AtomicU64,
    /// Connections the server closed for silence, by reason (`header_timeout`, `idle_timeout`).
    pub connections_closed: Family,
    /// Conversations started, by dialog and version.
    pub conversations_started: Family,
    /// Conversations ended, by dialog, version and result.
    pub conversations_ended: Family,
    /// Conversations left waiting for the user until they expired, by dialog, version and
    /// the node they were left at (drop-off).
    pub conversations_abandoned: Family,
    /// `http.request` calls by service and outcome (`2xx`, `4xx`, `5xx`, `timeout`, …).
    pub service_requests: Family,
    /// The time of one `http.request` call, retries included.
    pub service_latency: Histogram,
    /// Conversations handed to people, by dialog.
    pub handoffs: Family,
    /// Conversations handed back, and how long people had them in all (milliseconds).
    pub handbacks: AtomicU64,
    pub handoff_millis: AtomicU64,
    /// Messages people sent to users.
    pub agent_messages: AtomicU64,
}

/// What the session store says when the metrics are rendered.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreReadings {
    pub live_sessions: Option<usize>,
    /// Bytes the sessions take in memory, and their budget.
    pub memory: Option<(usize, usize)>,
    /// Requests sent to Redis so far.
    pub round_trips: Option<u64>,
}

impl StoreReadings {
    fn render(&self, out: &mut String) {
        let StoreReadings {
            live_sessions,
            memory,
            round_trips,
        } = *self;
        if let Some(live) = live_sessions {
            let _ = writeln!(
                out,
                "# HELP colloquy_sessions Live sessions in the store.\n# TYPE colloquy_sessions gauge\ncolloquy_sessions {live}"
            );
        }
        if let Some(round_trips) = round_trips {
            let _ = writeln!(
                out,
                "# HELP colloquy_redis_round_trips_total Requests sent to Redis (commands, scripts, pipelines), by every part of this instance.\n# TYPE colloquy_redis_round_trips_total counter\ncolloquy_redis_round_trips_total {round_trips}"
            );
        }
        if let Some((bytes, budget)) = memory {
            let _ = writeln!(
                out,
                "# HELP colloquy_session_bytes Bytes the sessions take in memory (records, keys and the map's cost per entry).\n# TYPE colloquy_session_bytes gauge\ncolloquy_session_bytes {bytes}\n# HELP colloquy_session_bytes_budget The most the sessions may take in memory (sessions.max_bytes).\n# TYPE colloquy_session_bytes_budget gauge\ncolloquy_session_bytes_budget {budget}"
            );
        }
    }
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn render_sendgrid(&self, out: &mut String) {
        self.sendgrid_sends.render(
            out,
            "colloquy_sendgrid_sends_total",
            "Emails handed to SendGrid, by final outcome (retries included).",
        );
        self.sendgrid_responses.render(
            out,
            "colloquy_sendgrid_responses_total",
            "SendGrid answers per attempt, by HTTP status or transport failure.",
        );
        let _ = writeln!(
            out,
            "# HELP colloquy_sendgrid_retries_total SendGrid attempts that were retried.\n# TYPE colloquy_sendgrid_retries_total counter\ncolloquy_sendgrid_retries_total {}",
            self.sendgrid_retries.load(Ordering::Relaxed)
        );
        self.sendgrid_latency.render(
            out,
            "colloquy_sendgrid_request_duration_seconds",
            "Time of one SendGrid attempt.",
            "",
        );
    }

    /// Conversation analytics: started, ended by result, abandoned by node.
    fn render_conversations(&self, out: &mut String) {
        self.conversations_started.render(
            out,
            "colloquy_conversations_started_total",
            "Conversations started, by dialog and version.",
        );
        self.conversations_ended.render(
            out,
            "colloquy_conversations_ended_total",
            "Conversations ended, by dialog, version and result.",
        );
        self.conversations_abandoned.render(
            out,
            "colloquy_conversations_abandoned_total",
            "Conversations that expired waiting for the user, by dialog, version and the node they were left at.",
        );
        self.handoffs.render(
            out,
            "colloquy_handoffs_total",
            "Conversations handed to people, by dialog.",
        );
        #[allow(clippy::cast_precision_loss)]
        let held = self.handoff_millis.load(Ordering::Relaxed) as f64 / 1e3;
        let _ = writeln!(
            out,
            "# HELP colloquy_handoff_duration_seconds How long people had the conversations they handed back.
# TYPE colloquy_handoff_duration_seconds summary
colloquy_handoff_duration_seconds_sum {held}
colloquy_handoff_duration_seconds_count {}",
            self.handbacks.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP colloquy_agent_messages_total Messages people sent to users of conversations handed to them.\n# TYPE colloquy_agent_messages_total counter\ncolloquy_agent_messages_total {}",
            self.agent_messages.load(Ordering::Relaxed)
        );
    }

    fn render_connections(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP colloquy_connections Client connections open.\n# TYPE colloquy_connections gauge\ncolloquy_connections {}",
            self.connections_open.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP colloquy_connections_refused_total Connections refused with 503 at server.max_connections.\n# TYPE colloquy_connections_refused_total counter\ncolloquy_connections_refused_total {}",
            self.connections_refused.load(Ordering::Relaxed)
        );
        self.connections_closed.render(
            out,
            "colloquy_connections_closed_total",
            "Connections closed by the server for silence, by reason.",
        );
    }

    /// The Prometheus text exposition, with what the store says at render time.
    pub fn render(&self, store: &StoreReadings) -> String {
        let mut out = String::with_capacity(4096);
        let counter = |out: &mut String, name: &str, help: &str, value: &AtomicU64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        };
        counter(
            &mut out,
            "colloquy_turns_total",
            "Turns run (duplicate deliveries excluded).",
            &self.turns,
        );
        self.turn_latency.render(
            &mut out,
            "colloquy_turn_duration_seconds",
            "Time to run one turn, actions included.",
            "",
        );
        counter(
            &mut out,
            "colloquy_duplicate_deliveries_total",
            "Messages answered from their idempotency record.",
            &self.duplicate_deliveries,
        );
        counter(
            &mut out,
            "colloquy_runaway_turns_total",
            "Turns ended by the transition cap.",
            &self.runaway_turns,
        );
        self.errors.render(
            &mut out,
            "colloquy_http_errors_total",
            "Requests answered with an error, by code.",
        );
        self.emails.render(
            &mut out,
            "colloquy_emails_total",
            "Emails by sender and outcome.",
        );
        self.sms.render(
            &mut out,
            "colloquy_sms_total",
            "Texts by sender and outcome.",
        );
        self.sms_blocked.render(
            &mut out,
            "colloquy_sms_blocked_total",
            "Texts the toll-fraud guard stopped, by reason.",
        );
        self.email_latency.render(
            &mut out,
            "colloquy_email_send_duration_seconds",
            "Time to hand one email to the sender, retries included.",
            "",
        );
        self.otp_sends
            .render(&mut out, "colloquy_otp_sends_total", "otp.send outcomes.");
        self.otp_verifications.render(
            &mut out,
            "colloquy_otp_verifications_total",
            "otp.verify outcomes.",
        );
        self.render_sendgrid(&mut out);
        self.render_connections(&mut out);
        self.render_conversations(&mut out);
        self.service_requests.render(
            &mut out,
            "colloquy_service_requests_total",
            "http.request calls, by service and outcome.",
        );
        self.service_latency.render(
            &mut out,
            "colloquy_service_request_duration_seconds",
            "Time of one http.request call, retries included.",
            "",
        );
        counter(
            &mut out,
            "colloquy_sessions_evicted_total",
            "Sessions evicted to stay under limits.max_sessions or sessions.max_bytes.",
            &self.sessions_evicted,
        );
        store.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        Metrics::inc(&metrics.turns);
        metrics.turn_latency.observe(Duration::from_micros(300));
        metrics.errors.inc(&[("code", "invalid_json")]);
        metrics.errors.inc(&[("code", "invalid_json")]);
        let text = metrics.render(&StoreReadings {
            live_sessions: Some(3),
            memory: Some((2048, 4096)),
            round_trips: Some(17),
        });
        assert!(text.contains("colloquy_turns_total 1\n"), "{text}");
        assert!(
            text.contains("colloquy_turn_duration_seconds_bucket{le=\"0.00025\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("colloquy_turn_duration_seconds_bucket{le=\"0.0005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("colloquy_turn_duration_seconds_count 1\n"),
            "{text}"
        );
        assert!(
            text.contains("colloquy_http_errors_total{code=\"invalid_json\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("colloquy_sessions 3\n"), "{text}");
        assert!(text.contains("colloquy_session_bytes 2048\n"), "{text}");
        assert!(
            text.contains("colloquy_redis_round_trips_total 17\n"),
            "{text}"
        );
        assert!(
            text.contains("colloquy_session_bytes_budget 4096\n"),
            "{text}"
        );
        assert_eq!(metrics.errors.get(&[("code", "invalid_json")]), 2);
    }
}
