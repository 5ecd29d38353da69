//! `colloquy test [PATHS]`: runs scripted conversations (see README, "Testing
//! conversations") in process against the real engine, or with `--url` against a running one.
//! Exit 0 when every script passed, 1 when one failed (or coverage is below
//! `--min-coverage`, or the dialogs under test are invalid), 2 for usage and I/O errors,
//! malformed scripts and an unreachable server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::testing::coverage::{self, DialogCoverage};
use crate::testing::remote::Remote;
use crate::testing::runner::InProcess;
use crate::testing::{
    Script, ScriptFile, ScriptResult, Selection, Verdict, check_against, junit, read_files, report,
};

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, load_config, load_valid_dialogs_in};

/// Where scripts are looked for when no path is given.
pub const DEFAULT_DIR: &str = "tests/conversations";

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Script files or directories of `*.yaml` scripts (default: tests/conversations).
    pub paths: Vec<PathBuf>,
    /// Config file the in-process engines start from (default: ./config.yaml if present).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Run black-box against a running engine (http://HOST:PORT) instead of in process.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// API key for --url, sent as `Authorization: Bearer KEY`.
    #[arg(long, env = "COLLOQUY_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the coverage of each tested dialog as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub coverage: Option<PathBuf>,
    /// Fail when a tested dialog's transition coverage is below PERCENT (0-100).
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub min_coverage: Option<f64>,
    /// Run only scripts with this tag (repeat for any of several).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Leave out scripts with this tag (repeatable).
    #[arg(long = "skip-tag", value_name = "TAG")]
    pub skip_tags: Vec<String>,
    /// Scripts run at once in process (default: the number of CPUs).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Also list every node and transition with how often the scripts reached it.
    #[arg(long, short)]
    pub verbose: bool,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a percentage between 0 and 100")),
    }
}

pub fn run(args: &TestArgs) -> u8 {
    if args.url.is_some() && (args.coverage.is_some() || args.min_coverage.is_some()) {
        eprintln!(
            "error: --coverage and --min-coverage need the in-process runner (coverage comes from the engine's trace, which --url cannot see)"
        );
        return EXIT_USAGE;
    }
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(DEFAULT_DIR)]
    } else {
        args.paths.clone()
    };
    let files = match read_files(&paths) {
        Ok(files) if files.is_empty() => {
            eprintln!(
                "error: no script files (*.yaml, *.yml) under {}",
                show(&paths)
            );
            return EXIT_USAGE;
        }
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match &args.url {
        Some(url) => runtime.block_on(remote(args, url, &files)),
        None => runtime.block_on(in_process(args, files)),
    }
}

async fn in_process(args: &TestArgs, mut files: Vec<ScriptFile>) -> u8 {
    let Some(config) = load_config(args.config.as_deref()) else {
        return EXIT_USAGE;
    };
    // Services the scripts answer exist for the dialogs under test.
    let mut env = config.load_env();
    env.services.extend(
        files
            .iter()
            .flat_map(|f| &f.scripts)
            .flat_map(|s| s.services.keys().cloned()),
    );
    let registry = match load_valid_dialogs_in(&config, &env, "the dialogs under test are invalid")
    {
        Ok(registry) => registry,
        Err(code) => return code,
    };
    for file in &mut files {
        check_against(file, &registry);
    }
    let Some(scripts) = select(args, &files) else {
        return EXIT_USAGE;
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(4, std::num::NonZero::get));
    println!(
        "running {} in process ({jobs} at a time)",
        count(&scripts, &files)
    );
    let setup = Arc::new(InProcess::new(config, registry, jobs));
    let started = Instant::now();
    let results = setup.clone().run(&scripts).await;
    let coverage = coverage::measure(&setup.registry, &results);
    finish(args, &results, Some(&coverage), started)
}

async fn remote(args: &TestArgs, url: &str, files: &[ScriptFile]) -> u8 {
    let Some(scripts) = select(args, files) else {
        return EXIT_USAGE;
    };
    let remote = match Remote::connect(url, args.api_key.clone()).await {
        Ok(remote) => remote,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let mode = if remote.is_dev() {
        " (dev mode: `wait` moves its clock, `expect.context` reads its sessions)"
    } else {
        ""
    };
    println!(
        "running {} against {url}, one at a time{mode}",
        count(&scripts, files)
    );
    let started = Instant::now();
    let results = remote.run(&scripts).await;
    finish(args, &results, None, started)
}

/// Reports malformed scripts (`None`: exit 2), else the scripts the tags select.
fn select(args: &TestArgs, files: &[ScriptFile]) -> Option<Vec<Arc<Script>>> {
    let mut errors = 0;
    for file in files {
        for diagnostic in &file.diagnostics {
            eprintln!("{}", diagnostic.render(&file.path));
        }
        errors += file.diagnostics.iter().filter(|d| d.is_error()).count();
    }
    if errors > 0 {
        let bad = files.iter().filter(|f| f.has_errors()).count();
        eprintln!(
            "error: {errors} problem{} in {bad} script file{}; nothing was run",
            plural(errors),
            plural(bad)
        );
        return None;
    }
    let selection = Selection {
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
    };
    let all: Vec<Arc<Script>> = files
        .iter()
        .flat_map(|f| f.scripts.iter().cloned())
        .collect();
    let scripts: Vec<Arc<Script>> = all
        .iter()
        .filter(|s| selection.selects(s))
        .cloned()
        .collect();
    if scripts.is_empty() {
        eprintln!(
            "error: no script selected (of {} found; --tag {:?}, --skip-tag {:?})",
            all.len(),
            args.tags,
            args.skip_tags
        );
        return None;
    }
    Some(scripts)
}

/// Prints the results, writes the reports and decides the exit code.
fn finish(
    args: &TestArgs,
    results: &[ScriptResult],
    coverage: Option<&[DialogCoverage]>,
    started: Instant,
) -> u8 {
    print!("\n{}", report::results(results));
    print!("{}", report::failures(results));
    if let Some(coverage) = coverage {
        print!("{}", report::coverage(coverage, args.verbose));
    }
    let mut code = if results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Failed(_)))
    {
        EXIT_FAILED
    } else {
        EXIT_OK
    };
    if let (Some(min), Some(coverage)) = (args.min_coverage, coverage) {
        for dialog in coverage.iter().filter(|d| d.transitions_percent() < min) {
            println!(
                "\ncoverage of {} is below --min-coverage {min}%: transitions {:.1}%",
                dialog.dialog,
                dialog.transitions_percent()
            );
            code = EXIT_FAILED;
        }
    }
    println!("\n{}", report::summary(results, started.elapsed()));
    if let Some(path) = &args.junit
        && !write(path, &junit::render(results))
    {
        return EXIT_USAGE;
    }
    if let (Some(path), Some(coverage)) = (&args.coverage, coverage) {
        let json = serde_json::to_string_pretty(&coverage::to_json(coverage)).unwrap_or_default();
        if !write(path, &(json + "\n")) {
            return EXIT_USAGE;
        }
    }
    code
}

fn write(path: &Path, text: &str) -> bool {
    match std::fs::write(path, text) {
        Ok(()) => true,
        Err(error) => {
            eprintln!("error: cannot write {}: {error}", path.display());
            false
        }
    }
}

fn count(scripts: &[Arc<Script>], files: &[ScriptFile]) -> String {
    format!(
        "{} script{} from {} file{}",
        scripts.len(),
        plural(scripts.len()),
        files.len(),
        plural(files.len())
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn show(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
