//! `eddy-bench SCENARIO...`: runs benchmark scenarios in one process and prints one row per scenario.

mod engine_only;
mod heap;
mod kafka;
mod memory;
mod pull;
mod report;
mod scenario;
mod topic_count;

use clap::Parser;

use report::Measurement;
use scenario::Query;
use topic_count::Counting;

/// Eddy's benchmarks: Nexmark bids through the engine alone, and Kafka -> Eddy -> Kafka.
#[derive(Debug, Parser)]
#[command(name = "eddy-bench")]
struct Args {
    /// Scenarios: raw-copy, kafka-q0, kafka-q1, kafka-q2, kafka-count-per-key, kafka-tumbling-count,
    /// kafka-latency, kafka-q0-bad-records, kafka-restore-count-per-key, kafka-restore-tumbling-count, engine-q0, engine-q1, engine-q2, engine-count-per-key, engine-tumbling-count,
    /// engine-state-per-key, idle-rss, pull-lookups, pull-group-by; or the groups kafka, engine, memory,
    /// pull, all. `produce` alone writes --kafka-events bids to --topic on --kafka instead.
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
    /// Count topics' records by reading them instead of from their high watermarks (for brokers whose
    /// watermarks lag, such as tansu 0.6).
    #[arg(long)]
    count_by_consuming: bool,
    /// Partitions of the Kafka topics.
    #[arg(long, default_value_t = 16)]
    partitions: i32,
    /// Seed of the Nexmark generator.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Events per second kafka-latency feeds; 0: half of what kafka-q0 reached in this run (else 40,000).
    #[arg(long, default_value_t = 0)]
    latency_rate: u64,
    /// Seconds kafka-latency feeds for (mind the embedded broker's few MiB per partition).
    #[arg(long, default_value_t = 5.0)]
    latency_seconds: f64,
    /// Distinct keys of engine-state-per-key.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Rows of the table pull-lookups looks keys up in.
    #[arg(long, default_value_t = 1_000_000)]
    pull_keys: u64,
    /// Concurrent clients of pull-lookups.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds pull-lookups runs for.
    #[arg(long, default_value_t = 10.0)]
    pull_seconds: f64,
    /// Rows of the table pull-group-by aggregates.
    #[arg(long, default_value_t = 100_000)]
    pull_rows: u64,
    /// `produce`: the topic to write.
    #[arg(long, default_value = "nexmark_bid")]
    topic: String,
    /// `produce`: events per second (0: unlimited).
    #[arg(long, default_value_t = 0)]
    rate: u64,
}

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

const QUERIES: [Query; 5] = [Query::Q0, Query::Q1, Query::Q2, Query::Count, Query::Tumbling];

fn expand(names: &[String]) -> Result<Vec<String>, String> {
    let engine: Vec<String> = QUERIES.iter().map(|q| format!("engine-{}", q.name())).collect();
    let kafka: Vec<String> = std::iter::once("raw-copy".to_string())
        .chain(QUERIES.iter().map(|q| format!("kafka-{}", q.name())))
        .chain(std::iter::once("kafka-latency".to_string()))
        .chain(std::iter::once("kafka-q0-bad-records".to_string()))
        .chain(RESTORED.iter().map(|q| format!("kafka-restore-{}", q.name())))
        .collect();
    let memory: Vec<String> = vec!["engine-state-per-key".into(), "idle-rss".into()];
    let pull: Vec<String> = vec!["pull-lookups".into(), "pull-group-by".into()];
    let mut out = Vec::new();
    for name in names {
        match name.as_str() {
            "all" => out.extend(kafka.iter().chain(&engine).chain(&memory).chain(&pull).cloned()),
            "pull" => out.extend(pull.iter().cloned()),
            "engine" => out.extend(engine.iter().cloned()),
            "kafka" => out.extend(kafka.iter().cloned()),
            "memory" => out.extend(memory.iter().cloned()),
            n if engine.iter().chain(&kafka).chain(&memory).chain(&pull).any(|s| s == n) => out.push(n.to_string()),
            n => {
                return Err(format!(
                    "unknown scenario '{n}': use {}, {}, {}, {}, engine, kafka, memory, pull or all (or produce alone)",
                    kafka.join(", "),
                    engine.join(", "),
                    memory.join(", "),
                    pull.join(", ")
                ))
            }
        }
    }
    Ok(out)
}

/// The stateful queries whose restore is measured (`kafka-restore-<query>`).
const RESTORED: [Query; 2] = [Query::Count, Query::Tumbling];

fn query_named(name: &str) -> Option<Query> {
    QUERIES.into_iter().find(|q| q.name() == name)
}

fn run(args: &Args) -> Result<Vec<Measurement>, String> {
    if args.scenarios.first().is_some_and(|s| s == "produce") {
        let Some(address) = &args.kafka else {
            return Err("produce writes to another broker: give it with --kafka HOST:PORT".into());
        };
        if args.scenarios.len() > 1 {
            return Err("produce runs alone".into());
        }
        let bids = scenario::bids(args.kafka_events, args.seed);
        return Ok(vec![kafka::produce(address, &args.topic, args.partitions, &bids, args.rate)?]);
    }
    let scenarios = expand(&args.scenarios)?;
    let mut results: Vec<Measurement> = Vec::new();
    let is_kafka = |s: &String| s == "raw-copy" || s.starts_with("kafka-");
    let engine_bids = scenarios
        .iter()
        .any(|s| s.starts_with("engine-") && s != "engine-state-per-key")
        .then(|| scenario::bids(args.events, args.seed));
    let kafka_bids = scenarios.iter().any(is_kafka).then(|| scenario::bids(args.kafka_events, args.seed));
    let mut kafka = match &kafka_bids {
        Some(bids) => {
            let counting = if args.count_by_consuming { Counting::Consuming } else { Counting::Watermarks };
            Some(kafka::KafkaBench::start(args.kafka.as_deref(), args.partitions, bids, counting)?)
        }
        None => None,
    };
    for name in &scenarios {
        eprintln!("running {name} ...");
        let pull_args = pull::PullArgs {
            kafka: args.kafka.as_deref(),
            partitions: args.partitions,
            keys: args.pull_keys,
            clients: args.clients,
            seconds: args.pull_seconds,
            rows: args.pull_rows,
        };
        let m = if name == "pull-lookups" {
            pull::lookups(&pull_args)?
        } else if name == "pull-group-by" {
            pull::group_by(&pull_args)?
        } else if name == "engine-state-per-key" {
            memory::state_per_key(args.keys)?
        } else if name == "idle-rss" {
            memory::idle_rss()?
        } else if let Some(q) = name.strip_prefix("engine-").and_then(query_named) {
            engine_only::run(q, engine_bids.as_deref().unwrap_or_default())?
        } else if let (Some(bench), Some(bids)) = (kafka.as_mut(), kafka_bids.as_deref()) {
            match name.strip_prefix("kafka-").and_then(query_named) {
                Some(q) => bench.query(q, bids)?,
                None if name.starts_with("kafka-restore-") => {
                    match name.strip_prefix("kafka-restore-").and_then(query_named) {
                        Some(q) if RESTORED.contains(&q) => bench.restore(q, bids)?,
                        _ => return Err(format!("unknown scenario {name}")),
                    }
                }
                None if name == "kafka-q0-bad-records" => bench.bad_records(bids)?,
                None if name == "kafka-latency" => {
                    let q0 =
                        results.iter().find(|m| m.name == "kafka-q0").map(|m| m.events as f64 / m.wall.as_secs_f64());
                    let rate = match (args.latency_rate, q0) {
                        (0, Some(max)) => (max / 2.0) as u64,
                        (0, None) => 40_000,
                        (r, _) => r,
                    };
                    bench.latency(rate.max(1), args.latency_seconds, bids)?
                }
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
