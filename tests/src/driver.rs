//! The engine over in-memory topics, stepped deterministically: statements run in order, produced
//! records are processed when `run` is called, and outputs are read back from topics.

use std::fmt::Write;
use std::sync::Arc;

use eddy_runtime::{MemoryBroker, OutputRecord, Record, Value};
use eddy_server::{Engine, EngineError, Output, Session};

/// The engine on a `MemoryBroker`, with its own single-threaded async runtime.
pub struct TestDriver {
    pub broker: Arc<MemoryBroker>,
    pub engine: Arc<Engine>,
    pub session: Session,
    runtime: tokio::runtime::Runtime,
    /// Keeps the Postgres front end (when served) running until the driver is dropped.
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
}

impl TestDriver {
    /// A fresh engine with no command log.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let broker = Arc::new(MemoryBroker::new());
        let engine = Arc::new(runtime.block_on(Engine::new(broker.clone(), None)).expect("engine"));
        Self { broker, engine, session: Session::default(), runtime, shutdown: None }
    }

    /// Serves the Postgres protocol for this engine on a free loopback port. Connections progress
    /// while the driver's runtime runs, that is inside `block_on`.
    pub fn serve_pg(&mut self) -> std::io::Result<std::net::SocketAddr> {
        let listener = self.runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        self.runtime.spawn(eddy_server::server::run(listener, self.engine.clone(), rx));
        self.shutdown = Some(tx);
        Ok(addr)
    }

    /// Runs a future on the driver's runtime (and with it the Postgres connections it serves).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Executes statements; a push query's rows are collected after running to idle.
    pub fn execute(&mut self, sql: &str) -> Vec<Result<Output, EngineError>> {
        let Self { engine, session, runtime, .. } = self;
        runtime.block_on(engine.execute(session, sql))
    }

    /// A snapshot of the engine's catalog.
    pub fn catalog(&self) -> eddy_catalog::Catalog {
        self.runtime.block_on(self.engine.catalog())
    }

    /// Creates a topic if it does not exist.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        use eddy_runtime::Broker as _;
        let _ = self.runtime.block_on(self.broker.create_topic(name, partitions, 1));
    }

    /// Produces a record to a topic.
    pub fn produce(&self, topic: &str, record: OutputRecord) -> Result<(), String> {
        self.broker.append(topic, vec![record]).map_err(|e| e.to_string())
    }

    /// Produces a record to one partition.
    pub fn produce_to(&self, topic: &str, partition: i32, record: OutputRecord) -> Result<(), String> {
        self.broker.append_to_partition(topic, partition, vec![record]).map_err(|e| e.to_string())
    }

    /// Processes every pending record through every query.
    /// Lets the generator connectors run until each has finished, or fails after `timeout`.
    pub fn finish_connectors(&self, timeout: std::time::Duration) -> Result<(), String> {
        let deadline = std::time::Instant::now() + timeout;
        while !self.runtime.block_on(self.engine.connectors_finished()) {
            if std::time::Instant::now() > deadline {
                return Err(format!("connectors still running after {timeout:?}"));
            }
            self.runtime.block_on(async { tokio::time::sleep(std::time::Duration::from_millis(1)).await });
        }
        Ok(())
    }

    pub fn run(&self) -> Result<(), String> {
        self.broker.run_until_idle().map_err(|e| e.to_string())
    }

    /// Names of every topic.
    pub fn topic_names(&self) -> Vec<String> {
        use eddy_runtime::Broker as _;
        self.runtime
            .block_on(self.broker.topics())
            .map(|ts| ts.into_iter().map(|t| t.name).collect())
            .unwrap_or_default()
    }

    /// Records of a topic in write order.
    pub fn records(&self, topic: &str) -> Vec<Record> {
        self.broker.records(topic)
    }

    /// Renders outputs; push-query rows are those available once the driver is idle.
    pub fn render(&self, outputs: Vec<Result<Output, EngineError>>) -> String {
        let mut out = String::new();
        for result in outputs {
            match result {
                Err(e) => {
                    let _ = writeln!(out, "ERROR {} at {:?}: {}", e.sqlstate, e.position, e.message);
                }
                Ok(Output::Stream(mut channel)) => {
                    if let Err(e) = self.run() {
                        let _ = writeln!(out, "run failed: {e}");
                    }
                    // Let the adapter task forward what the driver produced.
                    let rows = self.runtime.block_on(async {
                        let mut rows = Vec::new();
                        while let Ok(Some(row)) =
                            tokio::time::timeout(std::time::Duration::from_millis(50), channel.rows.recv()).await
                        {
                            rows.push(row);
                            if channel.limit.is_some_and(|l| rows.len() as u64 >= l) {
                                break;
                            }
                        }
                        rows
                    });
                    let names: Vec<String> = channel.columns.iter().map(|c| format!("{} {}", c.name, c.ty)).collect();
                    let _ = writeln!(out, "{}", names.join(" | "));
                    for row in rows {
                        match row {
                            Ok(values) => {
                                let _ = writeln!(
                                    out,
                                    "{}",
                                    values.iter().map(render_value).collect::<Vec<_>>().join(" | ")
                                );
                            }
                            Err(e) => {
                                let _ = writeln!(out, "ERROR {}", e.message);
                            }
                        }
                    }
                }
                Ok(other) => out.push_str(&render_output(&other)),
            }
        }
        out
    }
}

impl Default for TestDriver {
    fn default() -> Self {
        Self::new()
    }
}

fn render_value(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// Renders a finite output.
pub fn render_output(output: &Output) -> String {
    match output {
        Output::Done { tag, message, .. } => match message {
            Some(m) => format!("{tag}: {m}\n"),
            None => format!("{tag}\n"),
        },
        Output::Batches { schema, batches } => {
            let mut out = schema.fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>().join(" | ");
            out.push('\n');
            for batch in batches {
                for row in 0..batch.num_rows() {
                    let cells: Vec<String> = batch
                        .columns()
                        .iter()
                        .map(|c| render_value(&eddy_runtime::array_value(c.as_ref(), row)))
                        .collect();
                    out.push_str(&cells.join(" | "));
                    out.push('\n');
                }
            }
            out
        }
        Output::Tagged { tag, output } => format!("{tag}\n{}", render_output(output)),
        Output::CopyOut { .. } | Output::CopyIn(_) => "<copy>\n".into(),
        Output::CursorDeclared(_) => "DECLARE CURSOR\n".into(),
        Output::Rows { columns, rows } => {
            let mut out = columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(" | ");
            out.push('\n');
            for r in rows {
                out.push_str(&r.iter().map(render_value).collect::<Vec<_>>().join(" | "));
                out.push('\n');
            }
            out
        }
        Output::Stream(_) => "<stream>\n".into(),
    }
}

/// Renders a record: partition/offset, timestamp, key and value as text (or base64 when not UTF-8).
pub fn render_record(r: &Record) -> String {
    use base64::Engine as _;
    let show = |b: &Option<Vec<u8>>| match b {
        None => "<null>".to_string(),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) => s.to_string(),
            Err(_) => format!("b64:{}", base64::engine::general_purpose::STANDARD.encode(bytes)),
        },
    };
    format!("p{}@{} ts={} key={} value={}", r.partition, r.offset, r.timestamp, show(&r.key), show(&r.value))
}
