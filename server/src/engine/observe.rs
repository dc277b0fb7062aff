//! What the engine tells its operators: the status and counters of each persistent query, push
//! queries open, statements run by kind and outcome (the HTTP listener's `/metrics`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use eddy_runtime::{MetricsSnapshot, PROCESSING_LOG_COLUMNS};

use super::{Engine, EngineError, Session};

/// Statement kinds counted by name; anything else counts as `other`, so that no client can grow
/// the metrics' label set.
const STATEMENT_KINDS: &[&str] = &[
    "ALTER",
    "ASSERT",
    "BEGIN",
    "CLOSE",
    "COMMIT",
    "COPY",
    "CREATE",
    "DEALLOCATE",
    "DECLARE",
    "DESCRIBE",
    "DISCARD",
    "DROP",
    "EXPLAIN",
    "FETCH",
    "INSERT",
    "LIST",
    "MOVE",
    "PAUSE",
    "PRINT",
    "RESET",
    "RESUME",
    "ROLLBACK",
    "SELECT",
    "SET",
    "SHOW",
    "TERMINATE",
    "UNSET",
    "WITH",
];

/// Statements run, by kind (lower-case first word, or `other`) and outcome.
#[derive(Debug, Default)]
pub(super) struct StatementCounts(Mutex<BTreeMap<(&'static str, bool), u64>>);

impl StatementCounts {
    /// Counts one statement whose first word is `word` (upper-case).
    pub fn add(&self, word: &str, succeeded: bool) {
        let kind = STATEMENT_KINDS.iter().find(|k| **k == word).copied().unwrap_or("OTHER");
        if let Ok(mut counts) = self.0.lock() {
            *counts.entry((kind, succeeded)).or_default() += 1;
        }
    }
}

/// A persistent query's state, as SHOW QUERIES words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryState {
    Running,
    /// Rebuilding its state before it processes new records.
    Restoring,
    /// Failed, or not replayed; SHOW QUERIES gives the reason.
    Error,
    NotRunning,
}

impl QueryState {
    /// `RUNNING`, `RESTORING`, `ERROR` or `NOT_RUNNING`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Restoring => "RESTORING",
            Self::Error => "ERROR",
            Self::NotRunning => "NOT_RUNNING",
        }
    }
}

/// One persistent query's status and counters.
#[derive(Debug, Clone)]
pub struct QueryStatus {
    pub id: String,
    pub state: QueryState,
    pub metrics: MetricsSnapshot,
}

/// What the engine is doing now.
#[derive(Debug, Clone, Default)]
pub struct EngineStatus {
    pub queries: Vec<QueryStatus>,
    pub push_queries: usize,
    /// `(kind, succeeded) -> statements`, kinds lower-case.
    pub statements: Vec<(String, bool, u64)>,
    pub streams: usize,
    pub tables: usize,
}

impl Engine {
    /// The status of every persistent query and the engine's counters.
    pub async fn status(&self) -> EngineStatus {
        let (queries, streams, tables) = {
            let state = self.state.lock().await;
            let queries = state
                .catalog
                .queries()
                .map(|q| match state.running.get(&q.id) {
                    Some(r) => {
                        let metrics = r.metrics.snapshot();
                        let state = match r.handle.error() {
                            Some(_) => QueryState::Error,
                            None if metrics.restoring => QueryState::Restoring,
                            None => QueryState::Running,
                        };
                        QueryStatus { id: q.id.clone(), state, metrics }
                    }
                    None => QueryStatus {
                        id: q.id.clone(),
                        state: QueryState::NotRunning,
                        metrics: MetricsSnapshot::default(),
                    },
                })
                .collect();
            let streams = state.catalog.sources().filter(|s| s.kind == eddy_catalog::SourceKind::Stream).count();
            (queries, streams, state.catalog.sources().count() - streams)
        };
        let statements = match self.statements.0.lock() {
            Ok(counts) => counts.iter().map(|((kind, ok), n)| (kind.to_lowercase(), *ok, *n)).collect(),
            Err(_) => Vec::new(),
        };
        EngineStatus { queries, push_queries: self.pushes.list().len(), statements, streams, tables }
    }

    /// Creates the processing log's topic (one partition) and declares its stream, unless they
    /// exist (a stream of that name that is not the log is left alone).
    ///
    /// # Errors
    /// The broker's, or the statement's.
    pub async fn declare_processing_log(&self, stream: &str, topic: &str) -> Result<(), EngineError> {
        if self.broker.partitions(topic).await?.is_none() {
            self.broker.create_topic(topic, 1, 1).await?;
        }
        let statement = format!(
            "CREATE STREAM IF NOT EXISTS {stream} ({PROCESSING_LOG_COLUMNS}) WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON');"
        );
        // Run as a client's statement would be, but not counted as one.
        let mut session = Session::default();
        for parsed in eddy_parser::parse_statements(&statement).map_err(EngineError::syntax)? {
            self.execute_parsed(&mut session, &parsed, None).await?;
        }
        Ok(())
    }

    /// Whether the broker answers (a metadata request), for health checks.
    pub async fn broker_answers(&self) -> bool {
        self.broker.topics().await.is_ok()
    }
}
