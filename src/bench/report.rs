//! The human-readable tables of `colloquy bench` (the JSON report is the serialised structs).

use std::fmt::Write as _;

use super::load::{LoadReport, Measured};
use super::scale::{ScaleReport, SessionKind};

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.decimals$}"))
}

fn row(out: &mut String, round: usize, name: &str, m: &Measured) {
    let l = &m.load;
    let errors = l.error_count + l.warmup_errors;
    let _ = writeln!(
        out,
        "{round:>5}  {name:<8} {:>9.0} {:>8.0} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7} {:>9} {:>7} {:>7}",
        l.turns_per_s,
        l.conversations_per_s,
        l.turn_latency.p50_ms,
        l.turn_latency.p90_ms,
        l.turn_latency.p99_ms,
        l.turn_latency.max_ms,
        errors,
        opt(m.server_peak_rss_mib, 1),
        opt(m.server_cpu_cores, 2),
        opt(m.driver_cpu_cores, 2),
    );
}

/// The load benchmark as a table, one line per target and round.
pub fn load_table(report: &LoadReport) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(
        out,
        "colloquy bench: {} users, {:.0} s warm-up + {:.0} s measured, {:?} client on {} thread(s), {} CPUs ({}), {} MiB",
        report.users,
        report.warmup_s,
        report.duration_s,
        report.client,
        report.driver_threads,
        m.cpus,
        m.cpu_model,
        m.memory_mib
    );
    let _ = writeln!(
        out,
        "round  target     turns/s   conv/s  p50 ms  p90 ms  p99 ms  max ms  errors  peak RSS  server  driver"
    );
    let _ = writeln!(
        out,
        "                                    (turn latency: one webhook POST)             (MiB)   (cores) (cores)"
    );
    for (i, round) in report.rounds.iter().enumerate() {
        if let Some(baseline) = &round.baseline {
            row(&mut out, i + 1, "baseline", baseline);
        }
        row(&mut out, i + 1, "engine", &round.engine);
        if let Some(ratio) = round.ratio {
            let _ = writeln!(
                out,
                "{:>5}  engine / baseline turns/s: {:.1} %",
                i + 1,
                ratio * 100.0
            );
        }
    }
    if let Some(median) = report.median_ratio {
        let _ = writeln!(
            out,
            "median engine / baseline over {} round(s): {:.1} %",
            report.rounds.len(),
            median * 100.0
        );
    }
    for (i, round) in report.rounds.iter().enumerate() {
        let engine = &round.engine.load;
        for (kind, n) in &engine.errors {
            let _ = writeln!(out, "round {}: engine error {kind}: {n}", i + 1);
        }
        let _ = writeln!(
            out,
            "round {}: engine: {} conversations, {} turns, {} mailbox reads (p99 {:.2} ms); conversation p50 {:.2} ms, p99 {:.2} ms",
            i + 1,
            engine.conversations,
            engine.turns,
            engine.outbox_reads,
            engine.outbox_latency.p99_ms,
            engine.conversation_latency.p50_ms,
            engine.conversation_latency.p99_ms,
        );
        if let Some(trips) = round.engine.redis_round_trips_per_turn {
            let _ = writeln!(
                out,
                "round {}: engine: {trips:.2} Redis round trips per turn (colloquy_redis_round_trips_total)",
                i + 1
            );
        }
        if let Some(commands) = &round.engine.redis_commands_per_turn {
            let mut by_count: Vec<(&String, &f64)> = commands.iter().collect();
            by_count.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
            let listed: Vec<String> = by_count
                .iter()
                .map(|(name, per_turn)| format!("{name} {per_turn:.2}"))
                .collect();
            let _ = writeln!(
                out,
                "round {}: Redis: {:.2} commands per turn (INFO commandstats, inside scripts too): {}",
                i + 1,
                commands.values().sum::<f64>(),
                listed.join(", ")
            );
        }
    }
    out
}

/// The scale benchmark as a short table.
pub fn scale_table(report: &ScaleReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "colloquy bench --scale: {} sessions, {}, ids of {} characters",
        report.sessions,
        match report.kind {
            SessionKind::Waiting =>
                "each after a real first turn (greeting sent, waiting at ask_email)",
            SessionKind::Ended =>
                "each after a whole conversation (greeting, address, the emailed code: authenticated)",
        },
        report.id_len
    );
    let lines = [
        ("RSS before", format!("{:.1} MiB", report.rss_before_mib)),
        ("RSS after", format!("{:.1} MiB", report.rss_after_mib)),
        ("peak RSS", format!("{:.1} MiB", report.peak_rss_mib)),
        (
            "bytes per session",
            format!(
                "{:.0} resident, {:.0} counted against sessions.max_bytes",
                report.bytes_per_session, report.counted_bytes_per_session
            ),
        ),
        (
            "creation",
            format!(
                "{:.2} s ({:.0} sessions/s, {} thread(s))",
                report.create_s, report.sessions_per_s, report.threads
            ),
        ),
        (
            "sweep, nothing expired",
            format!("{:.1} ms", report.sweep_none_ms),
        ),
        (
            "sweep, all expired",
            format!("{:.1} ms ({} removed)", report.sweep_all_ms, report.swept),
        ),
        (
            "RSS after the sweep",
            format!("{:.1} MiB", report.rss_swept_mib),
        ),
    ];
    for (name, value) in lines {
        let _ = writeln!(out, "  {name:<24} {value}");
    }
    out
}
