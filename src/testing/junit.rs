//! `--junit FILE`: JUnit XML, the format CI systems show test results from. One `testsuite`
//! per script file, one `testcase` per script; a failure carries its one-line message and,
//! as text, the step, the expectation and the transcript; a skipped script says why.
//!
//! Written by hand: the format is small, and every text goes through [`escape`] or
//! [`escape_attr`], which also drop the control characters XML 1.0 cannot carry at all.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::report;
use super::{ScriptResult, Verdict};

/// The whole report.
pub fn render(results: &[ScriptResult]) -> String {
    let mut files: Vec<(PathBuf, Vec<&ScriptResult>)> = Vec::new();
    for result in results {
        let file = &result.script.file;
        match files.iter_mut().find(|(f, _)| f == file) {
            Some((_, list)) => list.push(result),
            None => files.push((file.clone(), vec![result])),
        }
    }
    let all: Vec<&ScriptResult> = results.iter().collect();
    let counts = Counts::of(&all);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"colloquy\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">",
        counts.tests,
        counts.failures,
        counts.skipped,
        seconds(counts.time)
    );
    for (file, list) in &files {
        suite(&mut out, file, list);
    }
    out.push_str("</testsuites>\n");
    out
}

struct Counts {
    tests: usize,
    failures: usize,
    skipped: usize,
    time: Duration,
}

impl Counts {
    fn of(results: &[&ScriptResult]) -> Self {
        Self {
            tests: results.len(),
            failures: results
                .iter()
                .filter(|r| matches!(r.verdict, Verdict::Failed(_)))
                .count(),
            skipped: results
                .iter()
                .filter(|r| matches!(r.verdict, Verdict::Skipped(_)))
                .count(),
            time: results.iter().map(|r| r.elapsed).sum(),
        }
    }
}

fn suite(out: &mut String, file: &std::path::Path, results: &[&ScriptResult]) {
    let counts = Counts::of(results);
    let name = escape_attr(&file.display().to_string());
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">",
        counts.tests,
        counts.failures,
        counts.skipped,
        seconds(counts.time)
    );
    for result in results {
        case(out, result);
    }
    out.push_str("  </testsuite>\n");
}

fn case(out: &mut String, result: &ScriptResult) {
    let script = &result.script;
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{}\"",
        escape_attr(&script.name),
        escape_attr(&script.dialog),
        escape_attr(&script.file.display().to_string()),
        script.pos.line,
        seconds(result.elapsed)
    );
    match &result.verdict {
        Verdict::Passed => out.push_str("/>\n"),
        Verdict::Skipped(reason) => {
            let _ = write!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                escape_attr(reason)
            );
        }
        Verdict::Failed(failure) => {
            let _ = write!(
                out,
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                escape_attr(&failure.message),
                failure.step.as_ref().map_or("setup", |_| "step"),
                escape(&report::failure_details(result, failure))
            );
        }
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

/// Escapes text for an XML element, dropping characters XML 1.0 forbids.
pub fn escape(text: &str) -> String {
    escape_with(text, false)
}

/// Escapes text for an XML attribute: also line breaks and tabs, which parsers would
/// otherwise turn into spaces.
pub fn escape_attr(text: &str) -> String {
    escape_with(text, true)
}

fn escape_with(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' if attribute => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            '\n' | '\t' => out.push(c),
            '\r' => {}
            c if u32::from(c) < 0x20 || matches!(c, '\u{fffe}' | '\u{ffff}') => {
                out.push('\u{fffd}');
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_forbidden_characters() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{1}\r\n"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;\u{fffd}\n"
        );
        assert_eq!(escape_attr("a\nb\tc"), "a&#10;b&#9;c");
    }
}
