//! What `colloquy test` prints: one line per script, then for each failure the step (as
//! `file:line:col` and as written), what was expected, what happened and the transcript up to
//! that point; the coverage of each dialog; a summary. Plain text, for terminals and CI logs.

use std::fmt::Write as _;
use std::time::Duration;

use super::coverage::DialogCoverage;
use super::{Failure, Line, ScriptResult, Verdict};

/// One line per script, in order: `ok`, `FAIL` or `skip`, the name and where it is.
pub fn results(results: &[ScriptResult]) -> String {
    let width = results
        .iter()
        .map(|r| r.script.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for result in results {
        let status = match &result.verdict {
            Verdict::Passed => "ok",
            Verdict::Failed(_) => "FAIL",
            Verdict::Skipped(_) => "skip",
        };
        let _ = writeln!(
            out,
            "{status:<4}  {:<width$}  {}",
            result.script.name,
            result.script.location()
        );
        if let Verdict::Skipped(reason) = &result.verdict {
            let _ = writeln!(out, "      skipped: {reason}");
        }
    }
    out
}

/// A block per failed script.
pub fn failures(results: &[ScriptResult]) -> String {
    let mut out = String::new();
    for result in results {
        if let Verdict::Failed(failure) = &result.verdict {
            let _ = writeln!(
                out,
                "\n---- FAIL: {} ({}, dialog {})",
                result.script.name,
                result.script.location(),
                result.script.dialog
            );
            out.push_str(&failure_details(result, failure));
        }
    }
    out
}

/// The step, the expectation, what happened and the transcript (also the JUnit failure text).
pub fn failure_details(result: &ScriptResult, failure: &Failure) -> String {
    let mut out = String::new();
    if let Some(step) = &failure.step {
        let _ = writeln!(
            out,
            "step:       {}:{}: {}",
            result.script.file.display(),
            step.pos,
            step.source
        );
    }
    field(&mut out, "problem:", &failure.message);
    if let Some(expected) = &failure.expected {
        field(&mut out, "expected:", expected);
    }
    if let Some(actual) = &failure.actual {
        field(&mut out, "actual:", actual);
    }
    if !result.transcript.is_empty() {
        out.push_str("transcript:\n");
        out.push_str(&transcript(&result.transcript));
    }
    out
}

/// `label` then `text`, later lines of `text` indented under the first.
fn field(out: &mut String, label: &str, text: &str) {
    let mut lines = text.lines();
    let _ = writeln!(out, "{label:<11} {}", lines.next().unwrap_or_default());
    for line in lines {
        let _ = writeln!(out, "{:<11} {line}", "");
    }
}

/// The conversation as a terminal shows it: `you>` and `bot>` lines, runner notes in
/// parentheses.
pub fn transcript(lines: &[Line]) -> String {
    let mut out = String::new();
    for line in lines {
        let _ = match line {
            Line::User(text) => writeln!(out, "  you> {text}"),
            Line::Bot(text) => writeln!(out, "  bot> {}", text.replace('\n', "\n       ")),
            Line::Note(text) => writeln!(out, "       ({text})"),
        };
    }
    out
}

/// Per dialog: nodes and transitions reached out of all, and the ones never reached. With
/// `verbose`, every node and transition with how often scripts reached it.
pub fn coverage(coverage: &[DialogCoverage], verbose: bool) -> String {
    let mut out = String::new();
    for dialog in coverage {
        let _ = writeln!(
            out,
            "\ncoverage of {} v{} ({} script{}):",
            dialog.dialog,
            dialog.version,
            dialog.scripts,
            if dialog.scripts == 1 { "" } else { "s" }
        );
        let _ = writeln!(
            out,
            "  nodes        {}/{} ({:.1}%)",
            dialog.nodes_covered(),
            dialog.nodes.len(),
            dialog.nodes_percent()
        );
        let _ = writeln!(
            out,
            "  transitions  {}/{} ({:.1}%)",
            dialog.transitions_covered(),
            dialog.transitions.len(),
            dialog.transitions_percent()
        );
        if verbose {
            hits(&mut out, dialog);
        }
        let missed_nodes: Vec<&str> = dialog
            .nodes
            .iter()
            .filter(|n| n.hits == 0)
            .map(|n| n.node.as_str())
            .collect();
        if !missed_nodes.is_empty() {
            let _ = writeln!(out, "  never reached nodes: {}", missed_nodes.join(", "));
        }
        let missed: Vec<String> = dialog
            .transitions
            .iter()
            .filter(|t| t.hits == 0)
            .map(super::coverage::TransitionHits::describe)
            .collect();
        if !missed.is_empty() {
            out.push_str("  never taken transitions:\n");
            for transition in missed {
                let _ = writeln!(out, "    {transition}");
            }
        }
    }
    out
}

/// Every node and transition with its hits.
fn hits(out: &mut String, dialog: &DialogCoverage) {
    out.push_str("  nodes reached (times entered):\n");
    for node in &dialog.nodes {
        let _ = writeln!(out, "    {:>4}  {}", node.hits, node.node);
    }
    out.push_str("  transitions taken (times):\n");
    for transition in &dialog.transitions {
        let _ = writeln!(out, "    {:>4}  {}", transition.hits, transition.describe());
    }
}

/// `ok: 14 passed, 0 failed, 1 skipped (15 scripts, 0.04s)`.
pub fn summary(results: &[ScriptResult], elapsed: Duration) -> String {
    let count = |f: fn(&Verdict) -> bool| results.iter().filter(|r| f(&r.verdict)).count();
    let passed = count(|v| matches!(v, Verdict::Passed));
    let failed = count(|v| matches!(v, Verdict::Failed(_)));
    let skipped = count(|v| matches!(v, Verdict::Skipped(_)));
    format!(
        "{}: {passed} passed, {failed} failed, {skipped} skipped ({} script{}, {:.2}s)",
        if failed == 0 { "ok" } else { "FAILED" },
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        elapsed.as_secs_f64()
    )
}
