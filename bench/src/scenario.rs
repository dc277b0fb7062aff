//! The scenarios: their names, the SQL they run, and the Nexmark bids they read.

use eddy_runtime::generator::{NexmarkConfig, NexmarkEvent, NexmarkGenerator};

/// A bid stream as every scenario reads it (JSON values, no key).
pub fn bid_stream_sql(stream: &str, topic: &str, partitions: i32) -> String {
    format!(
        "CREATE STREAM {stream} (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, date_time BIGINT, extra STRING) \
         WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON', PARTITIONS={partitions});"
    )
}

/// A Nexmark query in ksqlDB's dialect over the bid stream `bid`, as a persistent query writing `sink`.
pub fn query_sql(query: Query, bid: &str, sink: &str, sink_topic: &str, partitions: i32) -> String {
    let with = format!("WITH (KAFKA_TOPIC='{sink_topic}', PARTITIONS={partitions})");
    match query {
        Query::Q0 => format!("CREATE STREAM {sink} {with} AS SELECT auction, bidder, price, date_time, extra FROM {bid};"),
        Query::Q1 => format!(
            "CREATE STREAM {sink} {with} AS SELECT auction, bidder, 0.908 * price AS price, date_time, extra FROM {bid};"
        ),
        Query::Q2 => format!("CREATE STREAM {sink} {with} AS SELECT auction, price FROM {bid} WHERE auction % 123 = 0;"),
        Query::Count => format!(
            "CREATE TABLE {sink} {with} AS SELECT auction, COUNT(*) AS bids, MAX(price) AS max_price FROM {bid} GROUP BY auction;"
        ),
        Query::Tumbling => format!(
            "CREATE TABLE {sink} {with} AS SELECT auction, COUNT(*) AS bids, MAX(price) AS max_price FROM {bid} \
             WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY auction;"
        ),
    }
}

/// The queries a scenario can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// Pass-through.
    Q0,
    /// Projection with arithmetic (currency conversion).
    Q1,
    /// Filter (`auction % 123 = 0`).
    Q2,
    /// A running aggregate per key: COUNT and MAX per auction.
    Count,
    /// A windowed aggregate (Nexmark q5/q7-like): COUNT and MAX per auction per 10-second tumbling window.
    Tumbling,
}

impl Query {
    pub fn name(self) -> &'static str {
        match self {
            Query::Q0 => "q0",
            Query::Q1 => "q1",
            Query::Q2 => "q2",
            Query::Count => "count-per-key",
            Query::Tumbling => "tumbling-count",
        }
    }

    /// Output records for `bids` (one per input record, except q2's filter).
    pub fn expected_outputs(self, bids: &[Bid]) -> u64 {
        match self {
            Query::Q2 => bids.iter().filter(|b| b.auction % 123 == 0).count() as u64,
            _ => bids.len() as u64,
        }
    }
}

/// One bid: its auction (for expected counts) and its JSON value.
#[derive(Debug, Clone)]
pub struct Bid {
    pub auction: i64,
    pub date_time: i64,
    pub json: Vec<u8>,
}

/// The first `count` bids of a seeded Nexmark run.
pub fn bids(count: usize, seed: u64) -> Vec<Bid> {
    let generator = NexmarkGenerator::new(NexmarkConfig { seed, ..NexmarkConfig::default() });
    (0u64..)
        .filter(|n| NexmarkGenerator::is_bid(*n))
        .take(count)
        .map(|n| match generator.event(n) {
            NexmarkEvent::Bid(b) => {
                let json = NexmarkEvent::Bid(b.clone()).to_json();
                Bid { auction: b.auction, date_time: b.date_time, json }
            }
            other => unreachable!("event {n} is a bid, not {other:?}"),
        })
        .collect()
}
