//! `colloquy test`: scripted conversations, run against the real engine.
//!
//! A script names a dialog and lists steps (the user says, the bot replies, read an email,
//! wait, check the state). In process ([`runner`]), every script gets an engine of its own
//! (its own manual clock, outbox and stores), so `wait` in one script cannot touch another,
//! and scripts run in parallel. With `--url` ([`remote`]), the same scripts run black-box over
//! HTTP. Both drive the one step interpreter in `exec` through the [`exec::Target`] trait.
//!
//! The runner sits on top of the engine; `dialog/` knows nothing of it. Coverage comes from
//! the transitions each turn took (`Engine::turn_traced`) laid over the dialog's edges.

pub mod coverage;
pub mod exec;
pub mod expect;
pub mod junit;
pub mod remote;
pub mod report;
pub mod runner;
pub mod script;
pub mod services;
pub mod settings;
pub mod steps;
pub mod vars;

use std::sync::Arc;
use std::time::Duration;

use crate::dialog::machine::Traced;
use crate::yaml::Pos;

pub use script::{Script, ScriptFile, check_against, parse, read_files};

/// How one script went.
#[derive(Debug, Clone)]
pub struct ScriptResult {
    pub script: Arc<Script>,
    pub verdict: Verdict,
    pub transcript: Vec<Line>,
    /// The transitions its turns took, in order, in whichever dialog (in process only).
    pub trace: Vec<Traced>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed(Failure),
    /// Not run, and why.
    Skipped(String),
}

/// Why a script failed: the step, what it expected and what happened instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The step that failed (`None` when the script could not start).
    pub step: Option<StepRef>,
    /// One line: what went wrong.
    pub message: String,
    pub expected: Option<String>,
    /// What happened instead; may span lines.
    pub actual: Option<String>,
}

/// Where a step is written, and its source line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRef {
    pub pos: Pos,
    pub source: String,
}

/// One line of a script's transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    User(String),
    Bot(String),
    /// Something the runner did: read an email, moved the clock.
    Note(String),
}

/// Which scripts `--tag` / `--skip-tag` select.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Run only scripts with at least one of these tags (all when empty).
    pub tags: Vec<String>,
    /// Never run scripts with any of these tags.
    pub skip_tags: Vec<String>,
}

impl Selection {
    pub fn selects(&self, script: &Script) -> bool {
        let has = |tags: &[String]| tags.iter().any(|t| script.tags.contains(t));
        (self.tags.is_empty() || has(&self.tags)) && !has(&self.skip_tags)
    }
}
