//! `rqtt`: runs ksqlDB's REST query-validation tests against Eddy over the Postgres protocol and
//! prints what passes.
//!
//! `rqtt [--filter REGEX] [--list-failures] [--answers FILE] [--ratchet FILE] [--write-passing FILE] DIR...`

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use eddy_tests::rqtt::{load_dir, run_case, Outcome};
use serde_json::Value as Json;

#[derive(Parser)]
#[command(name = "rqtt", about = "Run ksqlDB REST query-validation tests (RQTT) against Eddy over pgwire")]
struct Args {
    /// Only cases whose full name matches this regex.
    #[arg(long)]
    filter: Option<String>,
    /// Print the name of every failing case (not only the reasons).
    #[arg(long)]
    list_failures: bool,
    /// The rows Eddy must give where ksqlDB refuses a query: `{"case name": {"header": "...", "rows": [...]}}`.
    #[arg(long)]
    answers: Option<PathBuf>,
    /// Fail (exit 1) if a case listed in this file does not pass.
    #[arg(long)]
    ratchet: Option<PathBuf>,
    /// Write the names of the passing cases (answers included) to this file.
    #[arg(long)]
    write_passing: Option<PathBuf>,
    /// Folders of RQTT JSON files.
    dirs: Vec<PathBuf>,
}

#[derive(Default)]
struct Counts {
    passed: usize,
    answers: usize,
    failed: usize,
    skipped: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = match args.filter.as_deref().map(regex::Regex::new).transpose() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rqtt: invalid --filter: {e}");
            return ExitCode::from(2);
        }
    };
    let answers: BTreeMap<String, Json> = match &args.answers {
        None => BTreeMap::new(),
        Some(path) => match std::fs::read_to_string(path).map(|t| serde_json::from_str(&t)) {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                eprintln!("rqtt: {}: invalid JSON: {e}", path.display());
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("rqtt: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    std::panic::set_hook(Box::new(|_| {}));
    let mut cases = Vec::new();
    for dir in &args.dirs {
        if !dir.is_dir() {
            println!("rqtt: {} is absent; skipping the conformance run (it needs ../shared/ksql-rqtt)", dir.display());
            return ExitCode::SUCCESS;
        }
        match load_dir(dir) {
            Ok(c) => cases.extend(c),
            Err(e) => {
                eprintln!("rqtt: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut per_file: BTreeMap<String, Counts> = BTreeMap::new();
    let mut skip_reasons: BTreeMap<String, usize> = BTreeMap::new();
    let (mut passing, mut answered, mut failing) = (BTreeSet::new(), Vec::new(), Vec::new());
    let started = std::time::Instant::now();
    for case in cases.iter().filter(|c| filter.as_ref().is_none_or(|f| f.is_match(&c.base.name))) {
        let counts = per_file.entry(case.base.file.clone()).or_default();
        match run_case(case, &answers) {
            Outcome::Pass => {
                counts.passed += 1;
                passing.insert(case.base.name.clone());
            }
            Outcome::Answers(_) => {
                counts.answers += 1;
                passing.insert(case.base.name.clone());
                answered.push(case.base.name.clone());
            }
            Outcome::Fail(reason) => {
                counts.failed += 1;
                println!("FAIL {}: {}", case.base.name, reason.replace('\n', " "));
                failing.push(case.base.name.clone());
            }
            Outcome::Skip(reason) => {
                counts.skipped += 1;
                *skip_reasons.entry(reason).or_default() += 1;
            }
        }
    }
    println!();
    println!("{:<52} {:>6} {:>7} {:>6} {:>7}", "file", "passed", "answers", "failed", "skipped");
    let mut total = Counts::default();
    for (file, c) in &per_file {
        println!("{file:<52} {:>6} {:>7} {:>6} {:>7}", c.passed, c.answers, c.failed, c.skipped);
        total.passed += c.passed;
        total.answers += c.answers;
        total.failed += c.failed;
        total.skipped += c.skipped;
    }
    for (reason, n) in &skip_reasons {
        println!("skipped {n}: {reason}");
    }
    for name in &answered {
        println!("Eddy answers (ksqlDB refuses): {name}");
    }
    if args.list_failures {
        for name in &failing {
            println!("failing: {name}");
        }
    }
    if let Some(path) = &args.write_passing {
        let text: String = passing.iter().map(|n| format!("{n}\n")).collect();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("rqtt: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    let mut regressions = Vec::new();
    if let Some(path) = &args.ratchet {
        let listed = std::fs::read_to_string(path).unwrap_or_default();
        for name in listed.lines().filter(|l| !l.trim().is_empty()) {
            if !passing.contains(name) && filter.as_ref().is_none_or(|f| f.is_match(name)) {
                regressions.push(name.to_string());
            }
        }
    }
    let runnable = total.passed + total.answers + total.failed;
    let percent = if runnable == 0 { 0.0 } else { 100.0 * (total.passed + total.answers) as f64 / runnable as f64 };
    println!(
        "RQTT conformance ({:.1} s): {} passed, {} Eddy answers, {} failed, {} skipped ({percent:.1}% of the cases that need no Schema Registry)",
        started.elapsed().as_secs_f64(),
        total.passed,
        total.answers,
        total.failed,
        total.skipped
    );
    if !regressions.is_empty() {
        for r in &regressions {
            println!("REGRESSION: {r} is listed in the ratchet but does not pass");
        }
        println!("rqtt: {} listed case(s) no longer pass", regressions.len());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
