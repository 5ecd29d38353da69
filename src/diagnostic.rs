//! Problems found in a source file, reported the way compilers do:
//! `file:line:col: error: message`, followed by an optional hint.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::yaml::Pos;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem at one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub pos: Pos,
    pub severity: Severity,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(pos: Pos, message: impl Into<String>) -> Self {
        Self {
            pos,
            severity: Severity::Error,
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(pos: Pos, message: impl Into<String>) -> Self {
        Self {
            pos,
            severity: Severity::Warning,
            message: message.into(),
            hint: None,
        }
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint unless one is already there.
    #[must_use]
    pub fn or_hint(self, hint: impl FnOnce() -> String) -> Self {
        if self.hint.is_some() {
            self
        } else {
            self.with_hint(hint())
        }
    }

    /// Adds "did you mean …?" when one of `candidates` is close to `wrong`.
    #[must_use]
    pub fn suggest<'a>(self, wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match did_you_mean(wrong, candidates) {
            Some(best) => self.with_hint(format!("did you mean `{best}`?")),
            None => self,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic for a file, as printed by `colloquy check`.
    pub fn render(&self, file: &Path) -> String {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!(
            "{}:{}: {severity}: {}",
            file.display(),
            self.pos,
            one_line(&self.message)
        );
        if let Some(hint) = &self.hint {
            out.push_str("\n  hint: ");
            out.push_str(&one_line(hint));
        }
        out
    }
}

/// The longest value shown between backticks; a longer one is cut with `…`.
const MAX_QUOTED_CHARS: usize = 80;

/// `text` as one line of reasonable length: control characters escaped (`\n`), and every
/// value quoted in backticks cut to [`MAX_QUOTED_CHARS`], since such values come from the
/// file and may be anything (a million characters, a newline).
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(400));
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        let quoted = i % 2 == 1;
        for (shown, c) in part.chars().enumerate() {
            if quoted && shown == MAX_QUOTED_CHARS {
                out.push('…');
                break;
            }
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.extend(c.escape_unicode()),
                c => out.push(c),
            }
        }
    }
    out
}

/// The candidate closest to `wrong`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (similarity(wrong, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// Jaro-Winkler similarity, raised to the threshold for a single swapped, missing, extra or
/// changed letter: short names have too few letters for Jaro-Winkler alone to see `sya` as
/// `say` or `bey` as `bye`. Below three letters one edit is too much of the name to guess.
fn similarity(wrong: &str, candidate: &str) -> f64 {
    let score = strsim::jaro_winkler(wrong, candidate);
    if wrong.chars().count() >= 3 && strsim::osa_distance(wrong, candidate) <= 1 {
        score.max(0.8)
    } else {
        score
    }
}

/// All problems of one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileDiagnostics {
    pub file: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileDiagnostics {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

impl fmt::Display for FileDiagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.diagnostics {
            writeln!(f, "{}", diagnostic.render(&self.file))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_cut_and_control_characters_escaped() {
        let long = "x".repeat(1_000_000);
        let diagnostic = Diagnostic::error(
            Pos { line: 1, col: 5 },
            format!("`{long}` is not a valid id"),
        )
        .with_hint("a\nb");
        let rendered = diagnostic.render(Path::new("d.yaml"));
        assert!(rendered.len() < 200, "{} characters", rendered.len());
        assert_eq!(
            rendered,
            format!(
                "d.yaml:1:5: error: `{}…` is not a valid id\n  hint: a\\nb",
                "x".repeat(80)
            )
        );
        let newline =
            Diagnostic::error(Pos { line: 2, col: 1 }, "`a\nb` is odd").render(Path::new("d.yaml"));
        assert_eq!(newline, "d.yaml:2:1: error: `a\\nb` is odd");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("ask_emial", ["ask_email", "greet"]),
            Some("ask_email")
        );
        assert_eq!(did_you_mean("zzz", ["ask_email", "greet"]), None);
        assert_eq!(did_you_mean("sya", ["say", "next"]), Some("say"));
        assert_eq!(did_you_mean("bey", ["bye", "greet"]), Some("bye"));
        assert_eq!(did_you_mean("lr", ["lt"]), None);
    }

    #[test]
    fn renders_like_a_compiler() {
        let d = Diagnostic::error(Pos::new(3, 7), "bad").with_hint("fix it");
        assert_eq!(
            d.render(Path::new("d.yaml")),
            "d.yaml:3:7: error: bad\n  hint: fix it"
        );
    }
}
