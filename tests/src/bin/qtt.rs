//! `qtt`: runs ksqlDB's query-validation tests through Eddy and prints what passes.
//!
//! `qtt [--filter REGEX] [--list-failures] [--ratchet passing.txt] [--write-passing FILE] DIR...`

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use eddy_tests::qtt::{load_dir, run_case, Outcome};

#[derive(Parser)]
#[command(name = "qtt", about = "Run ksqlDB query-validation tests (QTT) through Eddy")]
struct Args {
    /// Only cases whose full name matches this regex.
    #[arg(long)]
    filter: Option<String>,
    /// Print the name of every failing case (not only the reasons).
    #[arg(long)]
    list_failures: bool,
    /// Fail (exit 1) if a case listed in this file does not pass.
    #[arg(long)]
    ratchet: Option<PathBuf>,
    /// Write the names of the passing cases to this file.
    #[arg(long)]
    write_passing: Option<PathBuf>,
    /// Folders of QTT JSON files.
    dirs: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = match args.filter.as_deref().map(regex::Regex::new).transpose() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("qtt: invalid --filter: {e}");
            return ExitCode::from(2);
        }
    };
    // Panics inside a case are reported as failures; keep their default messages off the output.
    std::panic::set_hook(Box::new(|_| {}));
    let mut cases = Vec::new();
    for dir in &args.dirs {
        if !dir.is_dir() {
            println!("qtt: {} is absent; skipping the conformance run (it needs ../shared/ksql-qtt)", dir.display());
            return ExitCode::SUCCESS;
        }
        match load_dir(dir) {
            Ok(c) => cases.extend(c),
            Err(e) => {
                eprintln!("qtt: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut per_file: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut skip_reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut passing = BTreeSet::new();
    let mut failing = Vec::new();
    let started = std::time::Instant::now();
    for case in cases.iter().filter(|c| filter.as_ref().is_none_or(|f| f.is_match(&c.name))) {
        let entry = per_file.entry(case.file.clone()).or_default();
        match run_case(case) {
            Outcome::Pass => {
                entry.0 += 1;
                passing.insert(case.name.clone());
            }
            Outcome::Fail(reason) => {
                entry.1 += 1;
                println!("FAIL {}: {}", case.name, reason.replace('\n', " "));
                failing.push(case.name.clone());
            }
            Outcome::Skip(reason) => {
                entry.2 += 1;
                *skip_reasons.entry(reason).or_default() += 1;
            }
        }
    }
    println!();
    println!("{:<40} {:>6} {:>6} {:>6}", "file", "passed", "failed", "skipped");
    for (file, (p, f, s)) in &per_file {
        println!("{file:<40} {p:>6} {f:>6} {s:>6}");
    }
    for (reason, n) in &skip_reasons {
        println!("skipped {n}: {reason}");
    }
    if args.list_failures {
        for name in &failing {
            println!("failing: {name}");
        }
    }
    let (p, f, s) = per_file.values().fold((0, 0, 0), |a, x| (a.0 + x.0, a.1 + x.1, a.2 + x.2));
    if let Some(path) = &args.write_passing {
        let text: String = passing.iter().map(|n| format!("{n}\n")).collect();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("qtt: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    let mut regressions = Vec::new();
    if let Some(path) = &args.ratchet {
        let listed = std::fs::read_to_string(path).unwrap_or_default();
        // Names are kept as written: some end in a space ("... select * ").
        for name in listed.lines().filter(|l| !l.trim().is_empty()) {
            if !passing.contains(name) && filter.as_ref().is_none_or(|f| f.is_match(name)) {
                regressions.push(name.to_string());
            }
        }
    }
    println!("QTT conformance ({:.1} s): {p} passed, {f} failed, {s} skipped", started.elapsed().as_secs_f64());
    if !regressions.is_empty() {
        for r in &regressions {
            println!("REGRESSION: {r} is listed in the ratchet but does not pass");
        }
        println!("qtt: {} listed case(s) no longer pass", regressions.len());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
