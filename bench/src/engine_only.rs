//! Engine-only scenarios: generated bids through the real planner and pipeline (JSON decode, operators,
//! JSON encode) on one thread, the output discarded. No broker, no I/O: the engine's own cost per event.

use std::sync::Arc;

use eddy_parser::{parse_statements, Statement};
use eddy_planner::{plan_persistent, SinkRequest};
use eddy_runtime::{MemoryBroker, Pipeline, QueryMetrics, Record};
use eddy_server::{Engine, Session};

use crate::report::{Measurement, Stopwatch};
use crate::scenario::{bid_stream_sql, query_sql, Bid, Query};

/// Records decoded into one batch (as the Kafka driver's largest poll).
const BATCH: usize = 1024;

fn records(bids: &[Bid]) -> Vec<Record> {
    bids.iter()
        .enumerate()
        .map(|(i, b)| Record {
            partition: 0,
            offset: i as i64,
            timestamp: b.date_time,
            key: None,
            value: Some(b.json.clone()),
            headers: Vec::new(),
        })
        .collect()
}

/// Plans `query` over the bid stream the way the server does.
fn pipeline(query: Query) -> Result<Pipeline, String> {
    plan(&bid_stream_sql("bid", "bid", 1), &query_sql(query, "bid", "out", "out", 1))
}

/// Plans the persistent query `text` after running `ddl`, the way the server does.
pub fn plan(ddl: &str, text: &str) -> Result<Pipeline, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let engine = Engine::new(Arc::new(MemoryBroker::new()), None).await.map_err(|e| e.to_string())?;
        let mut session = Session::default();
        for r in engine.execute(&mut session, ddl).await {
            r.map_err(|e| e.to_string())?;
        }
        let catalog = engine.catalog().await;
        let parsed = parse_statements(text).map_err(|e| e.to_string())?;
        let Some(Statement::CreateAsSelect(c)) = parsed.first().map(|p| &p.statement) else {
            return Err(format!("not a CREATE ... AS SELECT: {text}"));
        };
        let plan = plan_persistent(&c.query, &catalog, SinkRequest::create(c, &session.properties, text))
            .map_err(|e| e.to_string())?;
        Pipeline::new(&plan.query.dataflow, Arc::new(QueryMetrics::default())).map_err(|e| e.to_string())
    })
}

/// Runs `query` over `bids`; checks the output count.
pub fn run(query: Query, bids: &[Bid]) -> Result<Measurement, String> {
    let mut pipeline = pipeline(query)?;
    let input = records(bids);
    let bytes: u64 = bids.iter().map(|b| b.json.len() as u64).sum();
    let watch = Stopwatch::start();
    let mut outputs = 0u64;
    for chunk in input.chunks(BATCH) {
        let out = pipeline.process("bid", chunk).map_err(|e| e.to_string())?;
        outputs += out.len() as u64;
    }
    let (wall, cpu) = watch.stop();
    let expected = query.expected_outputs(bids);
    if outputs != expected {
        return Err(format!("{}: {outputs} output records, expected {expected}", query.name()));
    }
    Ok(Measurement {
        name: format!("engine-{}", query.name()),
        events: bids.len() as u64,
        bytes,
        outputs,
        wall,
        cpu,
        latency: None,
        broker: "none (generator -> discard)".into(),
        note: None,
    })
}
