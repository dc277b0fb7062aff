//! Kafka scenarios: bids pre-loaded into a topic, then copied (`raw-copy`: rdkafka consume -> produce,
//! no decoding, the physical limit of the Kafka path) or run through a persistent query of the server's
//! engine (Kafka -> Eddy -> Kafka). Throughput is measured from the first output record to the last,
//! so the consumer group join (seconds on the embedded broker) is not counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_runtime::kafka::{ClientSettings, EmbeddedKafka, KafkaAdmin, KafkaBroker, MockAdmin, TopicAdmin};
use eddy_runtime::ProcessingLog;
use eddy_server::{Engine, Session};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::report::{Measurement, Stopwatch};
use crate::scenario::{bid_stream_sql, query_sql, Bid, Query};
use crate::topic_count::{Counting, TopicCount};

const WAIT: Duration = Duration::from_secs(300);
/// Longest a scenario may see no progress before it gives up.
const STALL: Duration = Duration::from_secs(15);

/// A broker (embedded or given), the engine on it, and the pre-loaded input topic.
pub struct KafkaBench {
    runtime: tokio::runtime::Runtime,
    engine: Arc<Engine>,
    settings: ClientSettings,
    partitions: i32,
    label: String,
    admin: Arc<dyn TopicAdmin>,
    cluster: Option<Arc<EmbeddedKafka>>,
    events: u64,
    bytes: u64,
    next_id: u32,
    /// The pre-loaded bid topic (named per run: another broker may keep earlier runs' topics).
    input: String,
    counting: Counting,
}

/// Runs statements on an engine, reading from the earliest offsets.
fn execute_on(runtime: &tokio::runtime::Runtime, engine: &Arc<Engine>, sql: &str) -> Result<(), String> {
    runtime.block_on(async move {
        let mut session = Session::default();
        session.properties.insert("auto.offset.reset".into(), "earliest".into());
        for r in engine.execute(&mut session, sql).await {
            r.map_err(|e| format!("{sql}: {e}"))?;
        }
        Ok(())
    })
}

/// The status SHOW QUERIES gives the query writing to `sink` (empty when none does).
async fn query_status(engine: &Engine, sink: &str) -> Result<String, String> {
    let mut session = Session::default();
    let shown = engine.execute(&mut session, "SHOW QUERIES;").await.into_iter().next();
    let Some(Ok(eddy_server::Output::Rows { rows, .. })) = shown else { return Err("SHOW QUERIES failed".into()) };
    let text = |v: Option<&eddy_runtime::Value>| match v {
        Some(eddy_runtime::Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    Ok(rows.iter().find(|r| text(r.get(3)).eq_ignore_ascii_case(sink)).map(|r| text(r.get(2))).unwrap_or_default())
}

pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Client settings and topic admin for `kafka` (None: a new embedded broker, returned too), with
/// the broker's label for the report.
#[allow(clippy::type_complexity)]
pub(crate) fn connect(
    kafka: Option<&str>,
) -> Result<(ClientSettings, Arc<dyn TopicAdmin>, Option<Arc<EmbeddedKafka>>, String), String> {
    Ok(match kafka {
        Some(address) => {
            let settings = ClientSettings::new(address);
            let admin = Arc::new(KafkaAdmin::new(settings.clone()).map_err(err)?);
            (settings, admin, None, format!("kafka {address}"))
        }
        None => {
            let cluster = Arc::new(EmbeddedKafka::start().map_err(err)?);
            let settings = ClientSettings::new(cluster.bootstrap_servers());
            (settings, Arc::new(MockAdmin::new(cluster.clone())), Some(cluster), "embedded (mock)".into())
        }
    })
}

/// kafka-q0-bad-records: one record in this many is malformed.
const BAD_EVERY: usize = 10;

impl KafkaBench {
    /// Starts the engine on `kafka` (None: the embedded broker) and loads `bids` into the input topic.
    pub fn start(kafka: Option<&str>, partitions: i32, bids: &[Bid], counting: Counting) -> Result<Self, String> {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(err)?;
        let (engine, settings, label, admin, cluster) = runtime.block_on(async {
            let (settings, admin, cluster, label) = connect(kafka)?;
            // Queries log their failures as a server's do (the bad-records scenario measures it).
            let topic = format!("bench_processing_log_{}_{}", std::process::id(), chrono_now_ms());
            let log = ProcessingLog { topic: topic.clone(), include_rows: false };
            let broker = KafkaBroker::new(settings.clone(), admin.clone(), cluster.clone()).map_err(err)?;
            let broker = Arc::new(broker.with_processing_log(log));
            let engine = Arc::new(Engine::new(broker, None).await.map_err(err)?);
            engine.declare_processing_log("BENCH_PROCESSING_LOG", &topic).await.map_err(err)?;
            Ok::<_, String>((engine, settings, label, admin, cluster))
        })?;
        let bench = KafkaBench {
            runtime,
            engine,
            settings,
            partitions,
            label,
            admin,
            cluster,
            events: bids.len() as u64,
            bytes: bids.iter().map(|b| b.json.len() as u64).sum(),
            next_id: 0,
            input: format!("bench_bid_{}_{}", std::process::id(), chrono_now_ms()),
            counting,
        };
        bench.execute(&bid_stream_sql("bid", &bench.input, partitions))?;
        // Round-robin over the partitions: a null key's sticky partitioner fills one partition per
        // batch, and an uneven partition outgrows the embedded broker's 5 MiB and loses its front.
        let producer: BaseProducer = bench.settings.producer().create().map_err(err)?;
        let now = chrono_now_ms();
        for (i, bid) in bids.iter().enumerate() {
            let partition = (i % partitions.max(1) as usize) as i32;
            send(
                &producer,
                BaseRecord::to(&bench.input).partition(partition).payload(bid.json.as_slice()).timestamp(now),
            )?;
        }
        producer.flush(Duration::from_secs(60)).map_err(err)?;
        // The embedded broker drops the oldest records of a full partition: check none was.
        // (Some brokers show acknowledged records a little later: wait for them.)
        let mut count = bench.count(&bench.input)?;
        let deadline = Instant::now() + STALL;
        let (dropped, total) = loop {
            let (dropped, total) = (count.dropped()?, count.total()?);
            if dropped || total >= bench.events || Instant::now() > deadline {
                break (dropped, total);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if dropped || total != bench.events {
            return Err(format!(
                "the broker kept {total} of {} records produced to {} (dropped from the front: {dropped}): use fewer \
                 --kafka-events or more --partitions",
                bench.events, bench.input
            ));
        }
        Ok(bench)
    }

    fn execute(&self, sql: &str) -> Result<(), String> {
        execute_on(&self.runtime, &self.engine, sql)
    }

    /// A counter of `topic`'s records, the way `--count-by-consuming` says.
    fn count(&self, topic: &str) -> Result<TopicCount, String> {
        TopicCount::new(&self.settings, self.counting, topic, self.partitions)
    }

    fn unique(&mut self, base: &str) -> String {
        self.next_id += 1;
        format!("{base}_{}_{}", self.next_id, &self.input["bench_bid_".len()..])
    }

    /// Waits until `topic` holds `expected` records; returns a stopwatch started when the first was seen
    /// (and how many there were then).
    fn wait_for_output(&self, topic: &str, expected: u64) -> Result<(Stopwatch, u64), String> {
        let deadline = Instant::now() + WAIT;
        let mut first: Option<(Stopwatch, u64)> = None;
        let (mut last_total, mut progress) = (0u64, Instant::now());
        let mut count = self.count(topic)?;
        loop {
            let total = count.total()?;
            if total != last_total {
                (last_total, progress) = (total, Instant::now());
            } else if total > 0 && progress.elapsed() > STALL {
                // What the query says of itself tells a stalled query from a misread sink, and an
                // input the broker has since cut from the front explains records never read.
                let status = self.runtime.block_on(query_status(&self.engine, topic)).unwrap_or_default();
                let cut = match self.count(&self.input)?.dropped()? {
                    true => "; the broker has dropped records from the front of the input since it was loaded",
                    false => "",
                };
                return Err(format!(
                    "{topic}: {total} of {expected} records, then nothing for {STALL:?}; the query: {status}{cut}"
                ));
            }
            if total > 0 && first.is_none() {
                first = Some((Stopwatch::start(), total));
            }
            if total >= expected {
                return Ok(first.unwrap_or_else(|| (Stopwatch::start(), total)));
            }
            if Instant::now() > deadline {
                return Err(format!("{topic} has {total} of {expected} records after {WAIT:?}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// rdkafka consume -> produce of the raw bytes, no decoding.
    pub fn raw_copy(&mut self) -> Result<Measurement, String> {
        let out = self.unique("bench_raw_copy");
        self.execute(&format!(
            "CREATE STREAM {out} (v STRING) WITH (KAFKA_TOPIC='{out}', VALUE_FORMAT='JSON', PARTITIONS={});",
            self.partitions
        ))?;
        let consumer: BaseConsumer = self.settings.consumer("_eddy_bench_raw", true).create().map_err(err)?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..self.partitions {
            tpl.add_partition_offset(&self.input, p, Offset::Beginning).map_err(err)?;
        }
        consumer.assign(&tpl).map_err(err)?;
        let producer: BaseProducer = self.settings.producer().create().map_err(err)?;
        let watch = Stopwatch::start();
        let mut copied = 0u64;
        let mut progress = Instant::now();
        while copied < self.events {
            if progress.elapsed() > STALL {
                return Err(format!(
                    "raw-copy: {copied} of {} records read, then nothing for {STALL:?} (did the broker drop records? \
                     the embedded one keeps a few MiB per partition: use fewer --kafka-events or more --partitions)",
                    self.events
                ));
            }
            let Some(msg) = consumer.poll(Duration::from_millis(100)) else { continue };
            progress = Instant::now();
            let msg = msg.map_err(err)?;
            let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&out).partition(msg.partition());
            if let Some(k) = msg.key() {
                record = record.key(k);
            }
            if let Some(v) = msg.payload() {
                record = record.payload(v);
            }
            if let Some(ts) = msg.timestamp().to_millis() {
                record = record.timestamp(ts);
            }
            send(&producer, record)?;
            copied += 1;
        }
        producer.flush(Duration::from_secs(60)).map_err(err)?;
        let (wall, cpu) = watch.stop();
        self.wait_for_output(&out, self.events).map_err(|e| format!("raw-copy: {e}"))?;
        Ok(Measurement {
            name: "raw-copy".into(),
            events: self.events,
            bytes: self.bytes,
            outputs: self.events,
            wall,
            cpu,
            latency: None,
            note: None,
            broker: self.label.clone(),
        })
    }

    /// A persistent query over the pre-loaded bids; measured from its first output record to its last.
    pub fn query(&mut self, query: Query, bids: &[Bid]) -> Result<Measurement, String> {
        let sink = self.unique(&format!("bench_{}", query.name().replace('-', "_")));
        let expected = query.expected_outputs(bids);
        self.execute(&query_sql(query, "bid", &sink, &sink, self.partitions))?;
        let (first, at_first) = self.wait_for_output(&sink, expected)?;
        let (wall, cpu) = first.stop();
        self.execute("TERMINATE ALL;")?;
        // Input events behind the outputs that arrived after the first sighting.
        let share = if expected == 0 { 1.0 } else { (expected - at_first.min(expected)) as f64 / expected as f64 };
        let events = (self.events as f64 * share) as u64;
        Ok(Measurement {
            name: format!("kafka-{}", query.name()),
            events,
            bytes: (self.bytes as f64 * share) as u64,
            outputs: expected,
            wall,
            cpu,
            latency: None,
            note: None,
            broker: self.label.clone(),
        })
    }
}

impl KafkaBench {
    /// kafka-q0 over an input where one record in ten is not JSON: the bad ones are skipped and
    /// written to the processing log. Measured as kafka-q0 is, over the good records (compare the
    /// two rows' records/s: the cost of a burst of bad records to the good ones).
    pub fn bad_records(&mut self, bids: &[Bid]) -> Result<Measurement, String> {
        let input = self.unique("bench_bad_bids");
        let stream = input.to_uppercase();
        self.execute(&bid_stream_sql(&stream, &input, self.partitions))?;
        let producer: BaseProducer = self.settings.producer().create().map_err(err)?;
        let now = chrono_now_ms();
        let (mut good, mut good_bytes) = (0u64, 0u64);
        for (i, bid) in bids.iter().enumerate() {
            let bad = i % BAD_EVERY == BAD_EVERY - 1;
            let payload: &[u8] = if bad { b"{\"auction\": not json" } else { &bid.json };
            if !bad {
                (good, good_bytes) = (good + 1, good_bytes + bid.json.len() as u64);
            }
            let partition = (i % self.partitions.max(1) as usize) as i32;
            send(&producer, BaseRecord::to(&input).partition(partition).payload(payload).timestamp(now))?;
        }
        producer.flush(Duration::from_secs(60)).map_err(err)?;
        let sink = self.unique("bench_q0_bad");
        self.execute(&query_sql(Query::Q0, &stream, &sink, &sink, self.partitions))?;
        let (first, at_first) = self.wait_for_output(&sink, good)?;
        let (wall, cpu) = first.stop();
        let status = self.runtime.block_on(query_status(&self.engine, &sink))?;
        self.execute("TERMINATE ALL;")?;
        let share = (good - at_first.min(good)) as f64 / good.max(1) as f64;
        Ok(Measurement {
            name: "kafka-q0-bad-records".into(),
            events: (good as f64 * share) as u64,
            bytes: (good_bytes as f64 * share) as u64,
            outputs: good,
            wall,
            cpu,
            latency: None,
            note: Some(format!("1 in {BAD_EVERY} records not JSON, to the processing log; query: {status}")),
            broker: self.label.clone(),
        })
    }

    /// A stateful query's restore (issue 18): `query` runs over the pre-loaded bids on an engine
    /// with a command log, which is shut down (offsets committed); a new engine over the same
    /// command log starts the query again, which re-reads every bid into its state before it goes
    /// on. Measured from the new engine's start to the end of the restore: records/s re-read.
    pub fn restore(&mut self, query: Query, bids: &[Bid]) -> Result<Measurement, String> {
        let sink = self.unique(&format!("bench_restore_{}", query.name().replace('-', "_")));
        let commands = self.unique("bench_commands");
        let engine = self.engine_with_log(&commands)?;
        execute_on(&self.runtime, &engine, &query_sql(query, "bid", &sink, &sink, self.partitions))?;
        self.wait_for_output(&sink, query.expected_outputs(bids))?;
        self.runtime.block_on(engine.shutdown());
        drop(engine);

        let watch = Stopwatch::start();
        let engine = self.engine_with_log(&commands)?;
        let deadline = Instant::now() + WAIT;
        loop {
            let status = self.runtime.block_on(query_status(&engine, &sink))?;
            if status.contains("state restored from") {
                break;
            }
            if status.starts_with("ERROR") || Instant::now() > deadline {
                return Err(format!("kafka-restore-{}: the restore did not end: {status}", query.name()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let (wall, cpu) = watch.stop();
        self.runtime.block_on(engine.shutdown());
        Ok(Measurement {
            name: format!("kafka-restore-{}", query.name()),
            events: self.events,
            bytes: self.bytes,
            outputs: 0,
            wall,
            cpu,
            latency: None,
            note: None,
            broker: self.label.clone(),
        })
    }

    /// An engine of its own over the bench's broker, with `commands` as its command log: the
    /// stream of bids is declared on it (in its command log) the first time.
    fn engine_with_log(&self, commands: &str) -> Result<Arc<Engine>, String> {
        let (settings, admin, cluster) = (self.settings.clone(), self.admin.clone(), self.cluster.clone());
        let engine = self.runtime.block_on(async {
            let broker = Arc::new(KafkaBroker::new(settings, admin, cluster).map_err(err)?);
            Ok::<_, String>(Arc::new(Engine::new(broker, Some(commands.to_string())).await.map_err(err)?))
        })?;
        let known = self.runtime.block_on(engine.catalog()).source("BID").is_ok();
        if !known {
            execute_on(&self.runtime, &engine, &bid_stream_sql("bid", &self.input, self.partitions))?;
        }
        Ok(engine)
    }

    /// q0 over a fresh topic fed at `rate` events/s for `seconds`: the end-to-end latency of every event,
    /// from the timestamp its producer gave it to its arrival at a consumer of the sink topic.
    pub fn latency(&mut self, rate: u64, seconds: f64, bids: &[Bid]) -> Result<Measurement, String> {
        let (stream, sink) = (self.unique("bench_lat_in"), self.unique("bench_lat_out"));
        self.execute(&bid_stream_sql(&stream, &stream, self.partitions))?;
        self.execute(&query_sql(Query::Q0, &stream, &sink, &sink, self.partitions))?;
        let count = ((rate as f64 * seconds) as u64).max(1);
        let consumer: BaseConsumer = self.settings.consumer("_eddy_bench_latency", true).create().map_err(err)?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..self.partitions {
            tpl.add_partition_offset(&sink, p, Offset::Beginning).map_err(err)?;
        }
        consumer.assign(&tpl).map_err(err)?;
        // One event through the producer, the query and the consumer first, so that none of them is still
        // starting (connecting, joining its group) when the clock starts.
        let producer: BaseProducer = self.settings.producer().create().map_err(err)?;
        produce_paced(&producer, &stream, &bids[..1], 1, 0)?;
        let deadline = Instant::now() + WAIT;
        while consumer.poll(Duration::from_millis(100)).transpose().map_err(err)?.is_none() {
            if Instant::now() > deadline {
                return Err(format!("kafka-latency: the warm-up event did not reach {sink} in {WAIT:?}"));
            }
        }
        let watch = Stopwatch::start();
        let producer = {
            let (stream, bids) = (stream.clone(), bids.to_vec());
            std::thread::spawn(move || produce_paced(&producer, &stream, &bids, count, rate))
        };
        let mut latencies: Vec<i64> = Vec::with_capacity(count as usize);
        let mut progress = Instant::now();
        while (latencies.len() as u64) < count {
            if progress.elapsed() > STALL {
                return Err(format!(
                    "kafka-latency: {} of {count} events arrived, then nothing for {STALL:?}",
                    latencies.len()
                ));
            }
            let Some(msg) = consumer.poll(Duration::from_millis(100)) else { continue };
            let msg = msg.map_err(err)?;
            let arrived = chrono_now_ms();
            progress = Instant::now();
            let ts = msg.timestamp().to_millis().ok_or("kafka-latency: a sink record has no timestamp")?;
            latencies.push(arrived - ts);
        }
        let (wall, cpu) = watch.stop();
        producer.join().map_err(|_| "the producer thread panicked".to_string())??;
        self.execute("TERMINATE ALL;")?;
        latencies.sort_unstable();
        let at = |q: f64| Duration::from_millis(latencies[((latencies.len() - 1) as f64 * q) as usize].max(0) as u64);
        Ok(Measurement {
            name: "kafka-latency".into(),
            events: count,
            bytes: bids.iter().cycle().take(count as usize).map(|b| b.json.len() as u64).sum(),
            outputs: count,
            wall,
            cpu,
            latency: Some((at(0.50), at(0.99))),
            broker: self.label.clone(),
            note: Some(format!(
                "q0 fed at {rate} events/s for {seconds} s; latency = sink arrival - producer timestamp, max {} ms",
                latencies.last().copied().unwrap_or(0)
            )),
        })
    }
}

/// Writes `count` bids (cycling through `bids`) to `topic` at `rate` per second (0: as fast as it takes
/// them), each stamped with the time it was sent.
pub fn produce_paced(producer: &BaseProducer, topic: &str, bids: &[Bid], count: u64, rate: u64) -> Result<(), String> {
    if bids.is_empty() {
        return Err("no bids to produce".into());
    }
    let start = Instant::now();
    for i in 0..count {
        if rate > 0 {
            let due = Duration::from_secs_f64(i as f64 / rate as f64);
            let now = start.elapsed();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let bid = &bids[(i % bids.len() as u64) as usize];
        send(producer, BaseRecord::to(topic).payload(bid.json.as_slice()).timestamp(chrono_now_ms()))?;
    }
    producer.flush(Duration::from_secs(60)).map_err(err)
}

/// Queues one record, waiting while the producer's queue is full.
fn send(producer: &BaseProducer, mut record: BaseRecord<'_, [u8], [u8]>) -> Result<(), String> {
    loop {
        match producer.send(record) {
            Ok(()) => break,
            Err((e, r)) if format!("{e}").contains("Queue full") => {
                producer.poll(Duration::from_millis(1));
                record = r;
            }
            Err((e, _)) => return Err(err(e)),
        }
    }
    producer.poll(Duration::ZERO);
    Ok(())
}

/// `eddy-bench produce`: Nexmark bids into a topic of another broker (created if absent), for runs that
/// read it later.
pub fn produce(address: &str, topic: &str, partitions: i32, bids: &[Bid], rate: u64) -> Result<Measurement, String> {
    let settings = ClientSettings::new(address);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(err)?;
    runtime.block_on(async {
        let admin = KafkaAdmin::new(settings.clone()).map_err(err)?;
        if !admin.topics().await.map_err(err)?.iter().any(|t| t.name == topic) {
            admin.create_topic(topic, partitions, 1).await.map_err(err)?;
        }
        Ok::<_, String>(())
    })?;
    let watch = Stopwatch::start();
    let producer: BaseProducer = settings.producer().create().map_err(err)?;
    produce_paced(&producer, topic, bids, bids.len() as u64, rate)?;
    let (wall, cpu) = watch.stop();
    Ok(Measurement {
        name: "produce".into(),
        events: bids.len() as u64,
        bytes: bids.iter().map(|b| b.json.len() as u64).sum(),
        outputs: bids.len() as u64,
        wall,
        cpu,
        latency: None,
        broker: format!("kafka {address}"),
        note: Some(format!("{} bids written to topic '{topic}'", bids.len())),
    })
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
