//! Pull queries over the Postgres protocol: key lookups on a large materialized table by many
//! concurrent clients with a prepared statement (`pull-lookups`), and a GROUP BY / ORDER BY over a
//! table of 100,000 rows (`pull-group-by`). The server runs in this process on the embedded (or a
//! given) Kafka; clients are tokio-postgres connections over loopback TCP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_runtime::kafka::{EmbeddedKafka, KafkaBroker};
use eddy_runtime::{Broker, OutputRecord};
use eddy_server::{Engine, Session};
use tokio::sync::watch;
use tokio_postgres::NoTls;

use crate::report::{Measurement, Stopwatch};

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// How a pull scenario runs.
pub struct PullArgs<'a> {
    pub kafka: Option<&'a str>,
    pub partitions: i32,
    /// Rows of the table of `pull-lookups`.
    pub keys: u64,
    /// Concurrent clients of `pull-lookups`.
    pub clients: usize,
    /// Seconds `pull-lookups` runs for.
    pub seconds: f64,
    /// Rows of the table of `pull-group-by`.
    pub rows: u64,
}

/// A server on a broker, answering the Postgres protocol on a loopback port.
struct Server {
    runtime: tokio::runtime::Runtime,
    engine: Arc<Engine>,
    broker: Arc<dyn Broker>,
    address: std::net::SocketAddr,
    label: String,
    _shutdown: watch::Sender<bool>,
    _cluster: Option<Arc<EmbeddedKafka>>,
}

impl Server {
    fn start(kafka: Option<&str>) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(err)?;
        let (engine, broker, address, label, cluster, shutdown) = runtime.block_on(async {
            let (settings, admin, cluster, label) = crate::kafka::connect(kafka)?;
            let broker: Arc<dyn Broker> = Arc::new(KafkaBroker::new(settings, admin, cluster.clone()).map_err(err)?);
            let engine = Arc::new(Engine::new(broker.clone(), None).await.map_err(err)?);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(err)?;
            let address = listener.local_addr().map_err(err)?;
            let (shutdown, rx) = watch::channel(false);
            tokio::spawn(eddy_server::server::run(listener, engine.clone(), rx));
            Ok::<_, String>((engine, broker, address, label, cluster, shutdown))
        })?;
        Ok(Self { runtime, engine, broker, address, label, _shutdown: shutdown, _cluster: cluster })
    }

    fn execute(&self, sql: &str) -> Result<(), String> {
        let mut session = Session::default();
        for result in self.runtime.block_on(self.engine.execute(&mut session, sql)) {
            result.map_err(|e| format!("{sql}: {}", e.message))?;
        }
        Ok(())
    }

    /// Creates table `name` over a new topic holding `rows` keys `k0..`, each with a NAME and a SCORE.
    fn table(&self, name: &str, rows: u64, partitions: i32) -> Result<(), String> {
        let topic = format!("bench_{}_{}", name.to_lowercase(), std::process::id());
        self.runtime.block_on(self.broker.create_topic(&topic, partitions, 1)).map_err(err)?;
        let broker = self.broker.clone();
        let topic_name = topic.clone();
        self.runtime.block_on(async move {
            let mut next = 0;
            while next < rows {
                let end = (next + 20_000).min(rows);
                let batch: Vec<OutputRecord> = (next..end)
                    .map(|i| OutputRecord {
                        timestamp: 1_700_000_000_000 + i as i64,
                        key: Some(format!("k{i}").into_bytes()),
                        value: Some(format!(r#"{{"NAME":"n{i}","SCORE":{}}}"#, i % 1000).into_bytes()),
                        headers: Vec::new(),
                    })
                    .collect();
                broker.produce(&topic_name, batch).await.map_err(err)?;
                next = end;
            }
            Ok::<_, String>(())
        })?;
        self.execute(&format!(
            "CREATE TABLE {name} (id STRING PRIMARY KEY, name STRING, score INT) \
             WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON', PARTITIONS={partitions});"
        ))
    }

    async fn connect(address: std::net::SocketAddr) -> Result<tokio_postgres::Client, String> {
        let config = format!("host=127.0.0.1 port={} user=bench dbname=eddy", address.port());
        let (client, connection) = tokio_postgres::connect(&config, NoTls).await.map_err(err)?;
        tokio::spawn(connection);
        Ok(client)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// `pull-lookups`: `clients` connections each run a prepared `SELECT ... WHERE id = $1` with random
/// keys for `seconds`; every answer is checked. Reports lookups/s and p50/p99 latency.
pub fn lookups(args: &PullArgs) -> Result<Measurement, String> {
    let server = Server::start(args.kafka)?;
    eprintln!("  loading {} keys ...", args.keys);
    server.table("LOOKUPS", args.keys, args.partitions)?;
    let (address, keys, clients) = (server.address, args.keys.max(1), args.clients.max(1));
    // The first query opens the table's view and waits until it holds the whole topic.
    let loaded = Instant::now();
    server.runtime.block_on(async {
        let client = Server::connect(address).await?;
        client.query_one("SELECT name FROM lookups WHERE id = 'k0'", &[]).await.map_err(err)?;
        Ok::<_, String>(())
    })?;
    eprintln!(
        "  view loaded in {:.1} s; {clients} clients for {:.0} s ...",
        loaded.elapsed().as_secs_f64(),
        args.seconds
    );
    let run_for = Duration::from_secs_f64(args.seconds);
    let watch = Stopwatch::start();
    let results = server.runtime.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..clients {
            tasks.push(tokio::spawn(async move {
                let client = Server::connect(address).await?;
                let statement = client.prepare("SELECT name, score FROM lookups WHERE id = $1").await.map_err(err)?;
                let mut latencies = Vec::new();
                let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (c as u64 + 1);
                let deadline = Instant::now() + run_for;
                while Instant::now() < deadline {
                    // xorshift: a uniform key without a dependency.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let i = state % keys;
                    let key = format!("k{i}");
                    let started = Instant::now();
                    let rows = client.query(&statement, &[&key]).await.map_err(err)?;
                    latencies.push(started.elapsed());
                    let name: Option<&str> = rows.first().map(|r| r.get(0));
                    if name != Some(format!("n{i}").as_str()) {
                        return Err(format!("lookup of {key} returned {name:?}"));
                    }
                }
                Ok::<_, String>(latencies)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.map_err(err)??);
        }
        Ok::<_, String>(all)
    })?;
    let (wall, cpu) = watch.stop();
    let mut latencies = results;
    latencies.sort();
    Ok(Measurement {
        name: "pull-lookups".into(),
        events: latencies.len() as u64,
        bytes: 0,
        outputs: latencies.len() as u64,
        wall,
        cpu,
        latency: Some((percentile(&latencies, 0.5), percentile(&latencies, 0.99))),
        broker: server.label.clone(),
        note: Some(format!(
            "{} keys, {clients} clients, prepared statement over pgwire (server and clients share this machine's cores)",
            args.keys
        )),
    })
}

/// `pull-group-by`: one client runs a GROUP BY / ORDER BY over a table of `rows` rows repeatedly;
/// reports queries/s (events: rows read) and p50/p99 query latency.
pub fn group_by(args: &PullArgs) -> Result<Measurement, String> {
    let server = Server::start(args.kafka)?;
    eprintln!("  loading {} rows ...", args.rows);
    server.table("SCORES", args.rows, args.partitions)?;
    let address = server.address;
    let sql = "SELECT score % 10 AS bucket, count(*) AS n, avg(score) AS mean, max(name) AS last \
               FROM scores GROUP BY score % 10 ORDER BY n DESC, bucket";
    let rows = args.rows;
    server.runtime.block_on(async {
        let client = Server::connect(address).await?;
        let answer = client.query(sql, &[]).await.map_err(err)?;
        let total: i64 = answer.iter().map(|r| r.get::<_, i64>(1)).sum();
        if total as u64 != rows || answer.len() != 10 {
            return Err(format!("GROUP BY counted {total} rows in {} groups, expected {rows} in 10", answer.len()));
        }
        Ok::<_, String>(())
    })?;
    let runs = 20;
    let watch = Stopwatch::start();
    let latencies = server.runtime.block_on(async {
        let client = Server::connect(address).await?;
        let mut latencies = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            client.query(sql, &[]).await.map_err(err)?;
            latencies.push(started.elapsed());
        }
        Ok::<_, String>(latencies)
    })?;
    let (wall, cpu) = watch.stop();
    let mut sorted = latencies;
    sorted.sort();
    Ok(Measurement {
        name: "pull-group-by".into(),
        events: rows * runs,
        bytes: 0,
        outputs: runs,
        wall,
        cpu,
        latency: Some((percentile(&sorted, 0.5), percentile(&sorted, 0.99))),
        broker: server.label.clone(),
        note: Some(format!("GROUP BY + ORDER BY over {rows} rows, {runs} runs by one client (events: rows read)")),
    })
}
