//! `/metrics`: the engine's status in the OpenMetrics text format (Prometheus scrapes it), with
//! Prometheus' naming conventions: `eddy_` names, `_total` counters, `query_id` labels.
//!
//! Per persistent query: `eddy_query_records_in_total`, `eddy_query_records_out_total`,
//! `eddy_query_records_skipped_total{error_class}` (deserialization, evaluation, serialization,
//! production: as the processing log classes failures),
//! `eddy_query_records_lost_total` (deleted from a source before the query read them),
//! `eddy_query_restored_records` and `eddy_query_restore_target_records` (state restore
//! progress), `eddy_query_partitions` (partitions its tasks hold here), `eddy_query_state{state}` (1 for the query's state). Per server: `eddy_sessions`,
//! `eddy_push_queries`, `eddy_streams`, `eddy_tables`, `eddy_statements_total{kind,outcome}`,
//! `eddy_build_info{version}`, `process_resident_memory_bytes`, `process_cpu_seconds_total`.

use std::fmt;

use eddy_runtime::{ErrorClass, MetricsSnapshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::process::{self, ProcessStats};
use crate::engine::{EngineStatus, QueryState};

/// Every state a query may be in, so that each query reports 1 for its own and 0 for the others
/// (a dashboard can then count queries per state).
const STATES: [QueryState; 4] = [QueryState::Running, QueryState::Restoring, QueryState::Error, QueryState::NotRunning];

/// What one scrape reports.
#[derive(Debug)]
struct Scrape {
    status: EngineStatus,
    sessions: usize,
    process: ProcessStats,
}

type QueryCounter = (&'static str, &'static str, fn(&MetricsSnapshot) -> u64);

const QUERY_COUNTERS: [QueryCounter; 3] = [
    ("eddy_query_records_in", "Records the query read from its inputs.", |m| m.records_in),
    ("eddy_query_records_out", "Rows the query wrote to its sink.", |m| m.rows_out),
    ("eddy_query_records_lost", "Records deleted from a source partition before the query read them.", |m| {
        m.records_lost
    }),
];

const QUERY_GAUGES: [QueryCounter; 3] = [
    ("eddy_query_restored_records", "Records re-read so far to rebuild the query's state at its start.", |m| {
        m.restored
    }),
    ("eddy_query_restore_target_records", "Records to re-read to rebuild the query's state at its start.", |m| {
        m.restore_total
    }),
    (
        "eddy_query_partitions",
        "Partitions the query's tasks hold on this server (a share when servers share a service id).",
        |m| m.partitions.unwrap_or(0),
    ),
];

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let queries = &self.status.queries;
        for (name, help, value) in QUERY_COUNTERS {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for q in queries {
                ConstCounter::new(value(&q.metrics)).encode(family.encode_family(&[("query_id", q.id.as_str())])?)?;
            }
        }
        let help = "Failures by class: records skipped (deserialization, serialization, production) and \
                    expressions that failed (evaluation; the value is NULL or the row not joined).";
        let mut family = encoder.encode_descriptor("eddy_query_records_skipped", help, None, MetricType::Counter)?;
        for q in queries {
            for (class, n) in ErrorClass::ALL.iter().zip(q.metrics.errors_by_class) {
                let labels = [("query_id", q.id.as_str()), ("error_class", class.name())];
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }
        for (name, help, value) in QUERY_GAUGES {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for q in queries {
                let n = i64::try_from(value(&q.metrics)).unwrap_or(i64::MAX);
                ConstGauge::new(n).encode(family.encode_family(&[("query_id", q.id.as_str())])?)?;
            }
        }
        let help =
            "1 for the state each persistent query is in (RUNNING, RESTORING, ERROR, NOT_RUNNING), 0 for the others.";
        let mut family = encoder.encode_descriptor("eddy_query_state", help, None, MetricType::Gauge)?;
        for q in queries {
            for state in STATES {
                let labels = [("query_id", q.id.as_str()), ("state", state.name())];
                ConstGauge::new(i64::from(q.state == state)).encode(family.encode_family(&labels)?)?;
            }
        }

        let help = "Statements run, by kind (their first word) and outcome.";
        let mut family = encoder.encode_descriptor("eddy_statements", help, None, MetricType::Counter)?;
        for (kind, succeeded, n) in &self.status.statements {
            let labels = [("kind", kind.as_str()), ("outcome", if *succeeded { "ok" } else { "error" })];
            ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
        }
        let count = |n: usize| ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX));
        for (name, help, n) in [
            ("eddy_sessions", "Clients connected over the Postgres wire.", self.sessions),
            ("eddy_push_queries", "Push queries (SELECT ... EMIT CHANGES) running.", self.status.push_queries),
            ("eddy_streams", "Streams in the catalog.", self.status.streams),
            ("eddy_tables", "Tables in the catalog.", self.status.tables),
        ] {
            count(n).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)?;
        }
        let mut info = encoder.encode_descriptor("eddy_build", "Eddy's version.", None, MetricType::Info)?;
        info.encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;
        if let Some(bytes) = self.process.resident_bytes {
            let help = "Resident memory size in bytes.";
            let family =
                encoder.encode_descriptor("process_resident_memory", help, Some(&Unit::Bytes), MetricType::Gauge)?;
            ConstGauge::new(i64::try_from(bytes).unwrap_or(i64::MAX)).encode(family)?;
        }
        if let Some(seconds) = self.process.cpu_seconds {
            let help = "Total user and system CPU time spent in seconds.";
            let family = encoder.encode_descriptor("process_cpu", help, Some(&Unit::Seconds), MetricType::Counter)?;
            ConstCounter::new(seconds).encode(family)?;
        }
        Ok(())
    }
}

/// The OpenMetrics text for the engine's status and `sessions` open.
///
/// # Errors
/// Only if formatting into a string fails (it does not).
pub fn encode(status: EngineStatus, sessions: usize) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape { status, sessions, process: process::current() }));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::QueryStatus;

    #[test]
    fn queries_and_the_server_are_reported_with_prometheus_names() {
        let metrics = MetricsSnapshot {
            records_in: 12,
            rows_out: 10,
            errors: 2,
            errors_by_class: [2, 0, 0, 0],
            ..MetricsSnapshot::default()
        };
        let status = EngineStatus {
            queries: vec![QueryStatus { id: "CTAS_PER_USER_0".into(), state: QueryState::Running, metrics }],
            push_queries: 1,
            statements: vec![("create".into(), true, 3), ("select".into(), false, 1)],
            streams: 2,
            tables: 1,
        };
        let text = encode(status, 4).expect("encoded");
        for line in [
            "eddy_query_records_in_total{query_id=\"CTAS_PER_USER_0\"} 12",
            "eddy_query_records_out_total{query_id=\"CTAS_PER_USER_0\"} 10",
            "eddy_query_records_skipped_total{query_id=\"CTAS_PER_USER_0\",error_class=\"deserialization\"} 2",
            "eddy_query_records_skipped_total{query_id=\"CTAS_PER_USER_0\",error_class=\"production\"} 0",
            "eddy_query_state{query_id=\"CTAS_PER_USER_0\",state=\"RUNNING\"} 1",
            "eddy_query_state{query_id=\"CTAS_PER_USER_0\",state=\"ERROR\"} 0",
            "eddy_statements_total{kind=\"create\",outcome=\"ok\"} 3",
            "eddy_statements_total{kind=\"select\",outcome=\"error\"} 1",
            "eddy_sessions 4",
            "eddy_push_queries 1",
            "# TYPE eddy_query_records_in counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    /// The shipped Grafana dashboard reads only metrics the server exports.
    #[test]
    fn the_grafana_dashboard_reads_exported_metrics() {
        let dashboard = include_str!("../../../docs/grafana/eddy.json");
        let status = EngineStatus {
            queries: vec![QueryStatus {
                id: "Q".into(),
                state: QueryState::Running,
                metrics: MetricsSnapshot::default(),
            }],
            statements: vec![("select".into(), true, 1)],
            ..EngineStatus::default()
        };
        let text = encode(status, 0).expect("encoded");
        let exported: std::collections::BTreeSet<&str> =
            text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(['{', ' ']).next()).collect();
        let mut read = dashboard
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("eddy_") || w.starts_with("process_"))
            .peekable();
        assert!(read.peek().is_some());
        for name in read {
            assert!(exported.contains(name), "the dashboard reads {name}, which is not exported: {exported:?}");
        }
    }
}
