//! Chaos and scale-out (issue 18): a broker that outlives the servers (the mock cluster hosted by
//! this test process), a producer writing a known sequence of keyed events, and four queries whose
//! final results are compared with values computed here from the produced events: a stateless
//! CSAS, a GROUP BY count and sum on a non-key column (through its repartition topic), a
//! tumbling-window count with EMIT FINAL, and a stream-table join. Two runs:
//! - one server killed (SIGKILL) and started again at seeded random moments;
//! - three servers sharing a service id (each holding a share of every query's partitions), one
//!   of them killed mid-stream; the others take its partitions over and rebuild their state.
//!
//! Each prints records in, out, lost and duplicated per query, and fails on any loss or wrong
//! value. Duplicates are allowed (at-least-once): the updates of the batch a kill interrupted
//! before its offsets were committed are written again.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::consumer::BaseConsumer;
use rdkafka::Message;
use support::{produce, producer, Server};

/// The two runs share the machine's two cores one after the other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const EVENTS: i64 = 2_000;
const USERS: i64 = 8;
const CATEGORIES: i64 = 5;
/// Event time between two events: 2,000 events span 200 s, twenty 10 s windows.
const STEP_MS: i64 = 100;
const START_MS: i64 = 1_000_000;
const KILLS: usize = 5;

struct Event {
    user: String,
    id: i64,
    category: String,
    amount: i64,
    timestamp: i64,
}

fn event(i: i64) -> Event {
    Event {
        user: format!("u{}", i % USERS),
        id: i,
        category: format!("c{}", (i / 3) % CATEGORIES),
        amount: (i * 37) % 100 + 1,
        timestamp: START_MS + i * STEP_MS,
    }
}

fn tier(user: i64) -> &'static str {
    if user % 2 == 0 {
        "gold"
    } else {
        "silver"
    }
}

/// Every record of a topic so far, read from the beginning.
struct Sink {
    topic: &'static str,
    consumer: BaseConsumer,
    records: Vec<(Vec<u8>, Option<String>)>,
}

impl Sink {
    fn new(bootstrap: &str, topic: &'static str) -> Sink {
        Sink { topic, consumer: support::reader(bootstrap, topic), records: Vec::new() }
    }

    /// Reads what arrived within about `wait`.
    fn read(&mut self, wait: Duration) {
        let until = Instant::now() + wait;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.consumer.poll(left.min(Duration::from_millis(50))) {
                Some(Ok(m)) => self.records.push((
                    m.key().unwrap_or_default().to_vec(),
                    m.payload().map(|p| String::from_utf8_lossy(p).into_owned()),
                )),
                Some(Err(e)) => panic!("{}: {e}", self.topic),
                None => {}
            }
        }
    }

    fn latest(&self) -> BTreeMap<Vec<u8>, Option<String>> {
        self.records.iter().cloned().collect()
    }
}

/// How a query's output compares with what it should be.
struct Figures {
    out: usize,
    lost: usize,
    duplicated: usize,
    wrong: usize,
}

/// A stream sink where each record is one event, told apart by a value field: lost are events
/// without a record, wrong are records with an unexpected value.
fn stream_figures(sink: &Sink, id_of: impl Fn(&str) -> Option<i64>, expected: &BTreeMap<i64, String>) -> Figures {
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    let mut wrong = 0;
    for (_, value) in &sink.records {
        let value = value.as_deref().unwrap_or_default();
        match id_of(value) {
            Some(id) if expected.get(&id).is_some_and(|v| v == value) => *seen.entry(id).or_default() += 1,
            _ => wrong += 1,
        }
    }
    Figures {
        out: sink.records.len(),
        lost: expected.keys().filter(|id| !seen.contains_key(id)).count(),
        duplicated: seen.values().map(|n| n - 1).sum(),
        wrong,
    }
}

/// A table sink: lost are keys whose latest value is not the expected one (missing or an older
/// value), wrong are keys that should not exist; duplicated are records past one per key.
fn table_figures(sink: &Sink, expected: &BTreeMap<Vec<u8>, String>) -> Figures {
    let latest = sink.latest();
    let keys: BTreeSet<&Vec<u8>> = sink.records.iter().map(|(k, _)| k).collect();
    Figures {
        out: sink.records.len(),
        lost: expected.iter().filter(|(k, v)| latest.get(*k).and_then(Option::as_deref) != Some(v.as_str())).count(),
        duplicated: 0,
        wrong: keys.iter().filter(|k| !expected.contains_key(**k)).count(),
    }
}

fn json_field(value: &str, field: &str) -> Option<i64> {
    let at = value.find(&format!("\"{field}\":"))? + field.len() + 3;
    let digits: String = value.get(at..)?.chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
    digits.parse().ok()
}

/// The queries both runs create, in this order (their ids follow: `CTAS_PER_CATEGORY_1`, ...).
const QUERIES: &str = "CREATE STREAM events (user_id STRING KEY, id BIGINT, category STRING, amount BIGINT)
       WITH (KAFKA_TOPIC='events', VALUE_FORMAT='JSON');
     CREATE TABLE tiers (user_id STRING PRIMARY KEY, tier STRING) WITH (KAFKA_TOPIC='tiers', VALUE_FORMAT='JSON');
     SET 'auto.offset.reset'='earliest';
     CREATE STREAM copied AS SELECT user_id, id, amount FROM events;
     CREATE TABLE per_category AS SELECT category, COUNT(*) AS n, SUM(amount) AS total FROM events GROUP BY category;
     CREATE TABLE per_window AS SELECT user_id, COUNT(*) AS n FROM events
       WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 0 SECONDS) GROUP BY user_id EMIT FINAL;
     CREATE STREAM enriched AS SELECT e.user_id AS user_id, e.id AS id, t.tier AS tier
       FROM events e LEFT JOIN tiers t ON e.user_id = t.user_id;";

const SINKS: [&str; 4] = ["COPIED", "PER_CATEGORY", "PER_WINDOW", "ENRICHED"];

/// Creates every topic the servers of `service` use with `partitions` each (the mock cluster
/// creates none for other processes: the GROUP BY's repartition topic, named by the service id
/// and the query id, too) and writes the tiers table.
async fn prepare(broker: &eddy_runtime::kafka::EmbeddedKafka, service: &str, partitions: i32) {
    let command_topic = format!("_eddy_{service}_command_topic");
    broker.create_topic(&command_topic, 1).await.expect("create topic");
    let repartition = eddy_runtime::repartition_topic(service, "CTAS_PER_CATEGORY_1");
    for topic in ["events", "tiers"].into_iter().chain(SINKS).chain([repartition.as_str()]) {
        broker.create_topic(topic, partitions).await.expect("create topic");
    }
    let kafka = producer(broker.bootstrap_servers());
    for user in 0..USERS {
        // Before the first event: in timestamp order, every event joins its user's tier.
        let value = format!(r#"{{"TIER":"{}"}}"#, tier(user));
        produce(&kafka, "tiers", format!("u{user}").as_bytes(), &value, START_MS - 1_000).await;
    }
}

/// What each query must end with, computed from the events.
struct Expected {
    copied: BTreeMap<i64, String>,
    per_category: BTreeMap<Vec<u8>, String>,
    per_window: BTreeMap<Vec<u8>, String>,
    enriched: BTreeMap<i64, String>,
}

fn expected() -> Expected {
    let events: Vec<Event> = (0..EVENTS).map(event).collect();
    let copied: BTreeMap<i64, String> =
        events.iter().map(|e| (e.id, format!(r#"{{"ID":{},"AMOUNT":{}}}"#, e.id, e.amount))).collect();
    let enriched: BTreeMap<i64, String> = events
        .iter()
        .map(|e| {
            let user: i64 = e.user.trim_start_matches('u').parse().unwrap_or_default();
            (e.id, format!(r#"{{"ID":{},"TIER":"{}"}}"#, e.id, tier(user)))
        })
        .collect();
    let mut per_category: BTreeMap<Vec<u8>, (i64, i64)> = BTreeMap::new();
    for e in &events {
        let entry = per_category.entry(e.category.as_bytes().to_vec()).or_default();
        *entry = (entry.0 + 1, entry.1 + e.amount);
    }
    let per_category: BTreeMap<Vec<u8>, String> =
        per_category.into_iter().map(|(k, (n, total))| (k, format!(r#"{{"N":{n},"TOTAL":{total}}}"#))).collect();
    // Windows close when stream time reaches their end (grace 0). Users' events interleave, so
    // every partition's stream time ends within one user cycle of the last event's time, past
    // the same window ends.
    let stream_time = START_MS + (EVENTS - 1) * STEP_MS;
    let mut per_window: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    for e in &events {
        let start = e.timestamp / 10_000 * 10_000;
        if start + 10_000 <= stream_time {
            let mut key = e.user.as_bytes().to_vec();
            key.extend_from_slice(&start.to_be_bytes());
            *per_window.entry(key).or_default() += 1;
        }
    }
    let per_window: BTreeMap<Vec<u8>, String> =
        per_window.into_iter().map(|(k, n)| (k, format!(r#"{{"N":{n}}}"#))).collect();
    Expected { copied, per_category, per_window, enriched }
}

/// Reads the sinks until every query's results are final (or 120 s passed), prints the figures
/// under `title` and fails on any loss or wrong value.
fn check_sinks(bootstrap: &str, title: &str) {
    let expected = expected();
    let mut sinks = SINKS.map(|topic| Sink::new(bootstrap, topic));
    let figures = |sinks: &[Sink; 4]| -> [Figures; 4] {
        [
            stream_figures(&sinks[0], |v| json_field(v, "ID"), &expected.copied),
            table_figures(&sinks[1], &expected.per_category),
            table_figures(&sinks[2], &expected.per_window),
            stream_figures(&sinks[3], |v| json_field(v, "ID"), &expected.enriched),
        ]
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = figures(&sinks);
    while last.iter().any(|f| f.lost > 0 || f.wrong > 0) && Instant::now() < deadline {
        for sink in &mut sinks {
            sink.read(Duration::from_millis(100));
        }
        last = figures(&sinks);
    }
    // Windows emitted twice are duplicates of a table's records (EMIT FINAL emits each once).
    let window_records = sinks[2].records.len();
    last[2].duplicated = window_records.saturating_sub(expected.per_window.len());
    eprintln!("{title}");
    eprintln!("{:14} {:>6} {:>6} {:>6} {:>10} {:>6}", "query", "in", "out", "lost", "duplicated", "wrong");
    for (name, f) in SINKS.iter().zip(&last) {
        eprintln!("{name:14} {EVENTS:>6} {:>6} {:>6} {:>10} {:>6}", f.out, f.lost, f.duplicated, f.wrong);
    }
    for (sink, f) in sinks.iter().zip(&last) {
        if f.wrong > 0 || f.lost > 0 {
            eprintln!("{}: first records {:?}", sink.topic, sink.records.iter().take(3).collect::<Vec<_>>());
        }
    }
    let latest = sinks[2].latest();
    let missing: Vec<String> = expected
        .per_window
        .iter()
        .filter(|(k, v)| latest.get(*k).and_then(Option::as_deref) != Some(v.as_str()))
        .map(|(k, v)| {
            let (user, start) = k.split_at(k.len().saturating_sub(8));
            let start = i64::from_be_bytes(start.try_into().unwrap_or_default());
            let got = latest.get(k).cloned().flatten().unwrap_or_else(|| "nothing".into());
            format!("{}@{start}: {v} (got {got})", String::from_utf8_lossy(user))
        })
        .collect();
    if !missing.is_empty() {
        eprintln!("PER_WINDOW: windows not final: {}", missing.join(", "));
    }
    for (name, f) in SINKS.iter().zip(&last) {
        assert!(f.lost == 0 && f.wrong == 0, "{name}: {} lost or not final, {} wrong", f.lost, f.wrong);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_servers_lose_nothing_and_keep_final_values() {
    let _serial = SERIAL.lock().await;
    let broker = eddy_runtime::kafka::EmbeddedKafka::start().expect("mock cluster");
    let bootstrap = broker.bootstrap_servers().to_string();
    prepare(&broker, "chaos", 1).await;
    let kafka = producer(&bootstrap);
    let args = ["--kafka", bootstrap.as_str(), "--service-id", "chaos"];
    let mut server = Some(Server::start(&args));
    let client = server.as_ref().expect("server").connect().await;
    client.batch_execute(QUERIES).await.expect("setup");
    drop(client);

    // Kills at seeded random events; the server stays down for a few more events each time.
    let mut rng = StdRng::seed_from_u64(18);
    let mut kills: Vec<i64> = (0..KILLS).map(|_| rng.gen_range(50..EVENTS - 50)).collect();
    kills.sort_unstable();
    let mut down_until = None;
    let started = Instant::now();
    // Paced (20 events every 100 ms, 10 s in all) so that kills land while queries are working.
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    for i in 0..EVENTS {
        if i % 20 == 0 {
            pace.tick().await;
        }
        produce_event(&kafka, i).await;
        if kills.contains(&i) && server.is_some() {
            drop(server.take()); // SIGKILL
            down_until = Some(i + rng.gen_range(1..40));
        }
        if down_until == Some(i) || (server.is_none() && i == EVENTS - 1) {
            server = Some(Server::start(&args));
            down_until = None;
        }
    }
    let title = format!(
        "chaos: {EVENTS} events produced in {:.1} s, server killed {KILLS} times at events {kills:?}",
        started.elapsed().as_secs_f64()
    );
    check_sinks(&bootstrap, &title);
    if let Some(server) = server {
        server.terminate();
    }
}

async fn produce_event(kafka: &rdkafka::producer::FutureProducer, i: i64) {
    let e = event(i);
    let value = format!(r#"{{"ID":{},"CATEGORY":"{}","AMOUNT":{}}}"#, e.id, e.category, e.amount);
    produce(kafka, "events", e.user.as_bytes(), &value, e.timestamp).await;
}

/// Partitions each query's tasks hold on a server, as SHOW QUERIES says (`partitions: N`).
async fn partitions_held(server: &Server) -> BTreeMap<String, u64> {
    let client = server.connect().await;
    let mut held = BTreeMap::new();
    for message in client.simple_query("SHOW QUERIES").await.expect("SHOW QUERIES") {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
            let (Some(id), Some(status)) = (row.get(0), row.get(2)) else { continue };
            let n = status
                .split("partitions: ")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            held.insert(id.to_string(), n);
        }
    }
    held
}

/// Partitions of each query's tasks: its inputs' (3 each) and its repartition topic's.
const PARTITIONS: [(&str, u64); 4] =
    [("CSAS_COPIED_0", 3), ("CTAS_PER_CATEGORY_1", 6), ("CTAS_PER_WINDOW_2", 3), ("CSAS_ENRICHED_3", 6)];

/// Waits (at most 90 s) until `servers` hold every partition of every query between them, each
/// server some of each; returns what each holds.
async fn spread(servers: &[&Server]) -> Vec<BTreeMap<String, u64>> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut held = Vec::new();
        for server in servers {
            held.push(partitions_held(server).await);
        }
        let complete = PARTITIONS.iter().all(|(id, total)| {
            let counts: Vec<u64> = held.iter().map(|h| h.get(*id).copied().unwrap_or(0)).collect();
            counts.iter().sum::<u64>() == *total && counts.iter().all(|n| *n > 0)
        });
        if complete {
            return held;
        }
        assert!(Instant::now() < deadline, "the servers did not share every query's partitions: {held:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn show_spread(when: &str, names: &[&str], held: &[BTreeMap<String, u64>]) {
    eprintln!("scale-out: partitions held {when}");
    for (id, _) in PARTITIONS {
        let counts: Vec<String> =
            names.iter().zip(held).map(|(n, h)| format!("{n}={}", h.get(id).copied().unwrap_or(0))).collect();
        eprintln!("scale-out:   {id:22} {}", counts.join(" "));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_a_service_id_split_the_work_and_survive_one_dying() {
    let _serial = SERIAL.lock().await;
    let broker = eddy_runtime::kafka::EmbeddedKafka::start().expect("mock cluster");
    let bootstrap = broker.bootstrap_servers().to_string();
    prepare(&broker, "scale", 3).await;
    let kafka = producer(&bootstrap);
    let args = ["--kafka", bootstrap.as_str(), "--service-id", "scale", "--processing-log", "none"];
    let a = Server::start(&args);
    let client = a.connect().await;
    client.batch_execute(QUERIES).await.expect("setup");
    drop(client);
    // The others read the queries from the command topic and join their groups.
    let (b, c) = (Server::start(&args), Server::start(&args));
    let before = spread(&[&a, &b, &c]).await;
    show_spread("by three servers", &["a", "b", "c"], &before);

    let started = Instant::now();
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    let mut b = Some(b);
    for i in 0..EVENTS {
        if i % 20 == 0 {
            pace.tick().await;
        }
        produce_event(&kafka, i).await;
        if i == EVENTS / 2 {
            drop(b.take()); // SIGKILL
        }
    }
    let produced = started.elapsed().as_secs_f64();
    let after = spread(&[&a, &c]).await;
    show_spread("after b was killed", &["a", "c"], &after);
    let title = format!(
        "scale-out: {EVENTS} events produced in {produced:.1} s over 3 partitions; 3 servers, one killed at event {}",
        EVENTS / 2
    );
    check_sinks(&bootstrap, &title);
    a.terminate();
    c.terminate();
}
