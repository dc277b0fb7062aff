//! SHOW and DESCRIBE: listings of streams, tables, topics, queries and properties.

use eddy_catalog::SourceKind;
use eddy_parser::ShowKind;
use eddy_runtime::aggregate::AGGREGATE_NAMES;
use eddy_runtime::function::function_names;
use eddy_runtime::operator::TABLE_FUNCTION_NAMES;

use super::error::{sqlstate, EngineError};
use super::properties::{AUTO_OFFSET_RESET, FAIL_ON_PRODUCTION_ERROR};
use super::{pg, Engine, Output, ResultColumn, Session};
use eddy_runtime::MAX_TASK_IDLE_MS;

const STREAM_COLUMNS: &[&str] = &["Stream Name", "Kafka Topic", "Key Format", "Value Format", "Windowed"];
const TABLE_COLUMNS: &[&str] = &["Table Name", "Kafka Topic", "Key Format", "Value Format", "Windowed"];
const TOPIC_COLUMNS: &[&str] = &["Kafka Topic", "Partitions", "Partition Replicas"];
const QUERY_COLUMNS: &[&str] = &["Query ID", "Query Type", "Status", "Sink Name", "Sink Kafka Topic", "Query String"];
const PROPERTY_COLUMNS: &[&str] = &["Property", "Scope", "Value"];
const CONNECTOR_COLUMNS: &[&str] =
    &["Connector Name", "Type", "Kafka Topic", "Status", "Rows Written", "Max Rows", "Rows/s"];

/// The columns each SHOW returns.
pub(super) fn show_columns(kind: &ShowKind) -> Vec<ResultColumn> {
    let names: &[&str] = match kind {
        ShowKind::Streams { .. } => STREAM_COLUMNS,
        ShowKind::Tables { .. } => TABLE_COLUMNS,
        ShowKind::Topics { .. } => TOPIC_COLUMNS,
        ShowKind::Queries { .. } => QUERY_COLUMNS,
        ShowKind::Properties => PROPERTY_COLUMNS,
        ShowKind::Functions => &["Function Name", "Type"],
        ShowKind::Connectors => CONNECTOR_COLUMNS,
        ShowKind::Variable(name) => return vec![ResultColumn::text(name.clone())],
    };
    names.iter().map(|n| ResultColumn::text(*n)).collect()
}

impl Engine {
    pub(super) async fn show(&self, session: &Session, kind: &ShowKind) -> Result<Output, EngineError> {
        let state = self.state.lock().await;
        let sources = |k: SourceKind, names: &[&str]| {
            let rows = state
                .catalog
                .sources()
                .filter(|s| s.kind == k)
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.topic.clone(),
                        s.key_format.format.to_string(),
                        s.value_format.format.to_string(),
                        "false".into(),
                    ]
                })
                .collect();
            Output::text_table(names, rows)
        };
        Ok(match kind {
            ShowKind::Streams { .. } => sources(SourceKind::Stream, STREAM_COLUMNS),
            ShowKind::Tables { .. } => sources(SourceKind::Table, TABLE_COLUMNS),
            ShowKind::Topics { .. } => {
                drop(state);
                let topics = self.broker.topics().await?;
                let rows = topics
                    .into_iter()
                    .filter(|t| !t.name.starts_with("_eddy_") && !t.name.starts_with("__"))
                    .map(|t| vec![t.name, t.partitions.to_string(), "1".into()])
                    .collect();
                Output::text_table(TOPIC_COLUMNS, rows)
            }
            ShowKind::Queries { .. } => {
                let rows = state
                    .catalog
                    .queries()
                    .map(|q| {
                        let status = match state.running.get(&q.id) {
                            Some(r) => match r.handle.error() {
                                Some(e) => format!("ERROR: {e}"),
                                None => format!("RUNNING ({})", r.metrics.snapshot()),
                            },
                            None => "NOT RUNNING".into(),
                        };
                        vec![
                            q.id.clone(),
                            "PERSISTENT".into(),
                            status,
                            q.sink.clone(),
                            q.sink_topic.clone(),
                            q.statement.clone(),
                        ]
                    })
                    .chain(self.pushes.list().into_iter().map(|p| {
                        vec![p.id, "PUSH".into(), "RUNNING".into(), String::new(), String::new(), p.statement]
                    }))
                    .collect();
                Output::text_table(QUERY_COLUMNS, rows)
            }
            ShowKind::Properties => {
                let mut rows: Vec<Vec<String>> = vec![
                    vec![
                        "auto.offset.reset".into(),
                        "SESSION".into(),
                        session.properties.get("auto.offset.reset").cloned().unwrap_or_else(|| "latest".into()),
                    ],
                    vec![
                        FAIL_ON_PRODUCTION_ERROR.into(),
                        "SESSION".into(),
                        session.properties.get(FAIL_ON_PRODUCTION_ERROR).cloned().unwrap_or_else(|| "false".into()),
                    ],
                    vec![
                        MAX_TASK_IDLE_MS.into(),
                        "SESSION".into(),
                        session.properties.get(MAX_TASK_IDLE_MS).cloned().unwrap_or_else(|| "0".into()),
                    ],
                    vec![
                        "bootstrap.servers".into(),
                        "SERVER".into(),
                        self.broker.bootstrap().unwrap_or_else(|| "in-memory".into()),
                    ],
                ];
                for (k, v) in &session.properties {
                    if ![AUTO_OFFSET_RESET, FAIL_ON_PRODUCTION_ERROR, MAX_TASK_IDLE_MS].contains(&k.as_str()) {
                        rows.push(vec![k.clone(), "SESSION".into(), v.clone()]);
                    }
                }
                // What one statement may ask for (server/src/limits.rs).
                rows.extend(crate::limits::listed().into_iter().map(|(k, v)| vec![k.to_string(), "SERVER".into(), v]));
                let push = self.pushes.limits();
                for (name, limit) in
                    [("eddy.limit.push.queries", push.server), ("eddy.limit.session.push.queries", push.session)]
                {
                    rows.push(vec![name.into(), "SERVER".into(), limit.to_string()]);
                }
                Output::text_table(PROPERTY_COLUMNS, rows)
            }
            ShowKind::Functions => {
                // Every function Eddy implements, by name, with its kind as ksqlDB names it.
                let mut rows: Vec<Vec<String>> = function_names()
                    .into_iter()
                    .map(|n| (n, "SCALAR"))
                    .chain(AGGREGATE_NAMES.iter().map(|n| (*n, "AGGREGATE")))
                    .chain(TABLE_FUNCTION_NAMES.iter().map(|n| (*n, "TABLE")))
                    .map(|(n, kind)| vec![n.to_string(), kind.to_string()])
                    .collect();
                rows.sort();
                Output::text_table(&["Function Name", "Type"], rows)
            }
            ShowKind::Connectors => {
                let rows = state
                    .connectors
                    .iter()
                    .map(|(name, c)| {
                        let written = c.progress.next_row.load(std::sync::atomic::Ordering::Relaxed);
                        let rate = match c.spec.events_per_second {
                            0 => "unlimited".to_string(),
                            n => n.to_string(),
                        };
                        let max = c.spec.max_events.map(|m| m.to_string()).unwrap_or_else(|| "unlimited".into());
                        vec![
                            name.clone(),
                            c.spec.name.to_uppercase(),
                            c.topic.clone(),
                            c.progress.status(),
                            written.to_string(),
                            max,
                            rate,
                        ]
                    })
                    .collect();
                Output::text_table(CONNECTOR_COLUMNS, rows)
            }
            ShowKind::Variable(name) => pg::show_variable(session, name)?,
        })
    }

    pub(super) async fn describe_source(&self, name: &str, extended: bool) -> Result<Output, EngineError> {
        let state = self.state.lock().await;
        let source = state.catalog.source(name).map_err(|_| {
            EngineError::new(
                sqlstate::UNDEFINED_TABLE,
                format!("Could not find STREAM/TABLE '{name}' in the Metastore"),
            )
        })?;
        let mut rows: Vec<Vec<String>> = source
            .columns
            .iter()
            .map(|c| {
                let suffix = source.constraint(c).map(|w| format!(" ({})", w.to_lowercase())).unwrap_or_default();
                vec![c.name.clone(), format!("{}{suffix}", c.ty)]
            })
            .collect();
        if extended {
            let queries = state.catalog.queries_using(name);
            let mut extra = vec![
                ("Type".to_string(), source.kind.to_string()),
                ("Kafka topic".to_string(), format!("{} (partitions: {})", source.topic, source.partitions)),
                ("Key format".to_string(), source.key_format.format.to_string()),
                ("Value format".to_string(), source.value_format.format.to_string()),
                (
                    "Timestamp field".to_string(),
                    source
                        .timestamp
                        .as_ref()
                        .map(|t| t.column.clone())
                        .unwrap_or_else(|| "Not set - using <ROWTIME>".into()),
                ),
                ("Statement".to_string(), source.statement.clone()),
            ];
            for q in queries {
                let role = if q.sink == name { "written by" } else { "read by" };
                let metrics = state.running.get(&q.id).map(|r| format!(" ({})", r.metrics.snapshot()));
                extra.push((format!("Query {role}"), format!("{}{}", q.id, metrics.unwrap_or_default())));
            }
            rows.extend(extra.into_iter().map(|(k, v)| vec![k, v]));
        }
        Ok(Output::text_table(&["Field", "Type"], rows))
    }
}
