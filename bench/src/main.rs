//! `eddy-bench SCENARIO...`: runs benchmark scenarios in one process and prints one row per scenario.

mod engine_only;
mod kafka;
mod report;
mod scenario;

use clap::Parser;

use report::Measurement;
use scenario::Query;

/// Eddy's benchmarks: Nexmark bids through the engine alone, and Kafka -> Eddy -> Kafka.
#[derive(Debug, Parser)]
#[command(name = "eddy-bench")]
struct Args {
    /// Scenarios: raw-copy, kafka-q0, kafka-q1, kafka-q2, kafka-count-per-key, engine-q0, engine-q1,
    /// engine-q2, engine-count-per-key; or the groups kafka, engine, all.
    #[arg(required = true)]
    scenarios: Vec<String>,
    /// Bids per engine-only scenario.
    #[arg(long, default_value_t = 2_000_000)]
    events: usize,
    /// Bids pre-loaded for the Kafka scenarios (the embedded broker keeps about 5 MiB per partition).
    #[arg(long, default_value_t = 150_000)]
    kafka_events: usize,
    /// Kafka bootstrap servers; absent: the embedded broker.
    #[arg(long)]
    kafka: Option<String>,
    /// Partitions of the Kafka topics.
    #[arg(long, default_value_t = 16)]
    partitions: i32,
    /// Seed of the Nexmark generator.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

const QUERIES: [Query; 4] = [Query::Q0, Query::Q1, Query::Q2, Query::Count];

fn expand(names: &[String]) -> Result<Vec<String>, String> {
    let engine: Vec<String> = QUERIES.iter().map(|q| format!("engine-{}", q.name())).collect();
    let kafka: Vec<String> =
        std::iter::once("raw-copy".to_string()).chain(QUERIES.iter().map(|q| format!("kafka-{}", q.name()))).collect();
    let mut out = Vec::new();
    for name in names {
        match name.as_str() {
            "all" => out.extend(kafka.iter().chain(&engine).cloned()),
            "engine" => out.extend(engine.iter().cloned()),
            "kafka" => out.extend(kafka.iter().cloned()),
            n if engine.iter().chain(&kafka).any(|s| s == n) => out.push(n.to_string()),
            n => {
                return Err(format!(
                    "unknown scenario '{n}': use {}, {}, engine, kafka or all",
                    kafka.join(", "),
                    engine.join(", ")
                ))
            }
        }
    }
    Ok(out)
}

fn query_named(name: &str) -> Option<Query> {
    QUERIES.into_iter().find(|q| q.name() == name)
}

fn run(args: &Args) -> Result<Vec<Measurement>, String> {
    let scenarios = expand(&args.scenarios)?;
    let mut results = Vec::new();
    let engine_bids =
        scenarios.iter().any(|s| s.starts_with("engine-")).then(|| scenario::bids(args.events, args.seed));
    let kafka_bids =
        scenarios.iter().any(|s| !s.starts_with("engine-")).then(|| scenario::bids(args.kafka_events, args.seed));
    let mut kafka = match &kafka_bids {
        Some(bids) => Some(kafka::KafkaBench::start(args.kafka.as_deref(), args.partitions, bids)?),
        None => None,
    };
    for name in &scenarios {
        eprintln!("running {name} ...");
        let m = if let Some(q) = name.strip_prefix("engine-").and_then(query_named) {
            engine_only::run(q, engine_bids.as_deref().unwrap_or_default())?
        } else if let (Some(bench), Some(bids)) = (kafka.as_mut(), kafka_bids.as_deref()) {
            match name.strip_prefix("kafka-").and_then(query_named) {
                Some(q) => bench.query(q, bids)?,
                None => bench.raw_copy()?,
            }
        } else {
            return Err(format!("scenario {name} has no input"));
        };
        results.push(m);
    }
    Ok(results)
}

fn main() {
    let args = Args::parse();
    match run(&args) {
        Ok(results) => print!("{}", report::table(&results)),
        Err(e) => {
            eprintln!("eddy-bench: {e}");
            std::process::exit(1);
        }
    }
}
