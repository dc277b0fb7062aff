//! Cursors (`DECLARE c CURSOR FOR query`, `FETCH`, `MOVE`, `CLOSE`): a query's rows handed out a
//! few at a time. A cursor over a push query waits for each row as it happens, so `FETCH 1` (psql's
//! `\set FETCH_COUNT 1`) shows a push query's rows live.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use eddy_runtime::Value;
use tokio::sync::Mutex;

use crate::engine::{EngineError, Output, ResultColumn, RowChannel};

/// The rows a cursor has left.
pub enum CursorRows {
    /// Rows of Eddy's own results.
    Values { columns: Vec<ResultColumn>, rows: VecDeque<Vec<Value>> },
    /// Rows of the SQL engine's results, handed out in slices.
    Batches { schema: SchemaRef, batches: VecDeque<RecordBatch> },
    /// A push query's rows as they happen, up to its LIMIT.
    Stream { channel: RowChannel, sent: u64 },
}

/// An open cursor.
pub struct Cursor {
    pub rows: CursorRows,
    /// `WITH HOLD`: stays open after its transaction ends.
    pub hold: bool,
}

/// How many rows a FETCH or MOVE asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Rows(u64),
    All,
}

impl Cursor {
    /// Takes up to `count` rows (waiting for a stream's rows to arrive); `keep` false discards them
    /// (MOVE). Returns the rows as an output and how many there were.
    pub async fn take(&mut self, count: Count, keep: bool) -> Result<(Output, u64), EngineError> {
        let wanted = match count {
            Count::Rows(n) => n,
            Count::All => u64::MAX,
        };
        match &mut self.rows {
            CursorRows::Values { columns, rows } => {
                let n = (wanted.min(rows.len() as u64)) as usize;
                let taken: Vec<Vec<Value>> = rows.drain(..n).collect();
                let len = taken.len() as u64;
                let rows = if keep { taken } else { Vec::new() };
                Ok((Output::Rows { columns: columns.clone(), rows }, len))
            }
            CursorRows::Batches { schema, batches } => {
                let mut out = Vec::new();
                let mut left = wanted;
                while left > 0 {
                    let Some(batch) = batches.pop_front() else { break };
                    let rows = batch.num_rows() as u64;
                    if rows <= left {
                        left -= rows;
                        out.push(batch);
                    } else {
                        let n = left as usize;
                        out.push(batch.slice(0, n));
                        batches.push_front(batch.slice(n, batch.num_rows() - n));
                        left = 0;
                    }
                }
                let len = out.iter().map(|b| b.num_rows() as u64).sum();
                let batches = if keep { out } else { Vec::new() };
                Ok((Output::Batches { schema: schema.clone(), batches }, len))
            }
            CursorRows::Stream { channel, sent } => {
                let mut rows = Vec::new();
                let mut taken = 0u64;
                while taken < wanted && channel.limit.is_none_or(|l| *sent < l) {
                    match channel.rows.recv().await {
                        Some(row) => {
                            let row = row?;
                            taken += 1;
                            *sent += 1;
                            if keep {
                                rows.push(row);
                            }
                        }
                        None => break,
                    }
                }
                Ok((Output::Rows { columns: channel.columns.clone(), rows }, taken))
            }
        }
    }

    /// The cursor's result columns, for Describe.
    pub fn columns(&self) -> Option<Vec<ResultColumn>> {
        match &self.rows {
            CursorRows::Values { columns, .. } => Some(columns.clone()),
            CursorRows::Stream { channel, .. } => Some(channel.columns.clone()),
            CursorRows::Batches { .. } => None,
        }
    }
}

/// A session's open cursors (shared by the session's copies).
#[derive(Clone, Default)]
pub struct Cursors {
    open: Arc<Mutex<BTreeMap<String, Arc<Mutex<Cursor>>>>>,
}

impl Cursors {
    /// Opens a cursor; false if one of that name is open.
    pub async fn open(&self, name: &str, cursor: Cursor) -> bool {
        let mut open = self.open.lock().await;
        if open.contains_key(name) {
            return false;
        }
        open.insert(name.to_string(), Arc::new(Mutex::new(cursor)));
        true
    }

    /// The cursor of that name.
    pub async fn get(&self, name: &str) -> Option<Arc<Mutex<Cursor>>> {
        self.open.lock().await.get(name).cloned()
    }

    /// Closes a cursor; false if none of that name was open.
    pub async fn close(&self, name: &str) -> bool {
        self.open.lock().await.remove(name).is_some()
    }

    /// Closes every cursor (`CLOSE ALL`, `DISCARD ALL`).
    pub async fn close_all(&self) {
        self.open.lock().await.clear();
    }

    /// Closes the cursors that do not outlive their transaction (at COMMIT or ROLLBACK).
    pub async fn end_transaction(&self) {
        let mut open = self.open.lock().await;
        let mut keep = BTreeMap::new();
        for (name, cursor) in std::mem::take(&mut *open) {
            if cursor.lock().await.hold {
                keep.insert(name, cursor);
            }
        }
        *open = keep;
    }
}
