//! A bounded scan: a dataflow run over a snapshot of its source topic, as pull queries are.
//! A stream's snapshot is every record; a table's is each key's latest record, deleted keys left out.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray};
use arrow::compute::{filter_record_batch, not};
use arrow::record_batch::RecordBatch;
use eddy_catalog::SourceKind;

use crate::dataflow::{Dataflow, Input};
use crate::error::{Result, RuntimeError};
use crate::metrics::QueryMetrics;
use crate::pipeline::Pipeline;
use crate::record::Record;

/// Records decoded into one batch.
const CHUNK: usize = 1024;

/// The rows a dataflow yields over `records` (the whole content of its source topic, in offset
/// order per partition), tombstones excluded.
pub fn scan(
    dataflow: &Dataflow,
    kind: SourceKind,
    records: Vec<Record>,
    metrics: Arc<QueryMetrics>,
) -> Result<Vec<RecordBatch>> {
    let records = match kind {
        SourceKind::Table => latest_per_key(records),
        SourceKind::Stream => records,
    };
    evaluate(dataflow, &records, metrics)
}

/// The rows a dataflow yields over `records` taken as they are (a stream's records, or a table
/// view's current rows), tombstones excluded.
pub fn evaluate(dataflow: &Dataflow, records: &[Record], metrics: Arc<QueryMetrics>) -> Result<Vec<RecordBatch>> {
    let mut pipeline = Pipeline::new(dataflow, metrics)?;
    let Input::Source(source) = &dataflow.input else {
        return Err(RuntimeError::Internal("a bounded scan reads a single source".into()));
    };
    let mut out = Vec::new();
    for chunk in records.chunks(CHUNK) {
        if let Some(batch) = pipeline.process_batch(&source.topic, chunk)? {
            let batch = without_tombstones(&batch)?;
            if batch.num_rows() > 0 {
                out.push(batch);
            }
        }
    }
    Ok(out)
}

/// Each key's latest record, in the order those records were written; keys whose latest record
/// is a tombstone, and records without a key, are left out.
fn latest_per_key(records: Vec<Record>) -> Vec<Record> {
    let mut latest: HashMap<(i32, Vec<u8>), usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(key) = &r.key {
            latest.insert((r.partition, key.clone()), i);
        }
    }
    let mut keep: Vec<usize> = latest.into_values().collect();
    keep.sort_unstable();
    let mut records: Vec<Option<Record>> = records.into_iter().map(Some).collect();
    keep.into_iter().filter_map(|i| records[i].take()).filter(|r| r.value.is_some()).collect()
}

/// Drops rows whose hidden value-null column (the last) is true: a table filter's deletions.
fn without_tombstones(batch: &RecordBatch) -> Result<RecordBatch> {
    let last = batch.columns().last().ok_or_else(|| RuntimeError::Internal("empty batch".into()))?;
    let Some(deleted) = last.as_any().downcast_ref::<BooleanArray>() else {
        return Ok(batch.clone());
    };
    if deleted.true_count() == 0 {
        return Ok(batch.clone());
    }
    Ok(filter_record_batch(batch, &not(deleted)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(partition: i32, key: &str, value: Option<&str>) -> Record {
        Record {
            partition,
            offset: 0,
            timestamp: 0,
            key: Some(key.as_bytes().to_vec()),
            value: value.map(|v| v.as_bytes().to_vec()),
            headers: Vec::new(),
        }
    }

    #[test]
    fn a_table_snapshot_keeps_each_keys_latest_record_and_drops_deleted_keys() {
        let records = vec![
            record(0, "a", Some("1")),
            record(0, "b", Some("2")),
            record(0, "a", Some("3")),
            record(0, "c", Some("4")),
            record(0, "b", None),
            record(1, "a", Some("5")),
        ];
        let latest = latest_per_key(records);
        let text = |b: &Option<Vec<u8>>| b.as_deref().map(|b| String::from_utf8_lossy(b).into_owned());
        let seen: Vec<String> = latest
            .iter()
            .map(|r| {
                format!("{}:{}={}", r.partition, text(&r.key).unwrap_or_default(), text(&r.value).unwrap_or_default())
            })
            .collect();
        assert_eq!(seen, vec!["0:a=3", "0:c=4", "1:a=5"]);
    }
}
