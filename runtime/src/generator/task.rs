//! Runs a generator connector: rows from its spec, encoded in the stream's formats, written to the
//! stream's topic at the configured rate until MAX_EVENTS or until stopped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eddy_catalog::FormatSpec;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::connector::ConnectorSpec;
use crate::broker::Broker;
use crate::error::Result;
use crate::format::{codec_for, Codec, Role};
use crate::record::OutputRecord;

/// Rows written per produce call (and per pacing step).
const CHUNK: u64 = 1000;
/// How often a running connector logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// How far a connector got.
#[derive(Debug, Default)]
pub struct ConnectorProgress {
    /// Row number of the next row to write (rows written so far, counting those of earlier runs).
    pub next_row: AtomicU64,
    /// MAX_EVENTS reached, or stopped by an error.
    pub finished: AtomicBool,
    pub error: Mutex<Option<String>>,
}

impl ConnectorProgress {
    /// `RUNNING`, `FINISHED` or `FAILED: ...`.
    pub fn status(&self) -> String {
        if let Some(e) = self.error.lock().ok().and_then(|e| e.clone()) {
            return format!("FAILED: {e}");
        }
        if self.finished.load(Ordering::Relaxed) {
            "FINISHED".into()
        } else {
            "RUNNING".into()
        }
    }
}

/// A running connector.
pub struct ConnectorTask {
    pub spec: ConnectorSpec,
    pub topic: String,
    pub progress: Arc<ConnectorProgress>,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl ConnectorTask {
    /// Starts writing rows from `first_row` on.
    pub fn start(
        broker: Arc<dyn Broker>,
        topic: &str,
        spec: ConnectorSpec,
        (key_format, value_format): (&FormatSpec, &FormatSpec),
        key_columns: usize,
        first_row: u64,
    ) -> Result<Self> {
        let (keys, values) = spec.columns.split_at(key_columns.min(spec.columns.len()));
        let key = codec_for(key_format, keys.to_vec(), Role::Key)?;
        let value = codec_for(value_format, values.to_vec(), Role::Value)?;
        let progress = Arc::new(ConnectorProgress { next_row: AtomicU64::new(first_row), ..Default::default() });
        let (stop, stopped) = watch::channel(false);
        let run = Run { broker, topic: topic.to_string(), spec: spec.clone(), key, value, key_columns };
        let handle = tokio::spawn(run.run(progress.clone(), stopped));
        Ok(Self { spec, topic: topic.to_string(), progress, stop, handle })
    }

    /// Stops writing and waits for the current write to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

struct Run {
    broker: Arc<dyn Broker>,
    topic: String,
    spec: ConnectorSpec,
    key: Box<dyn Codec>,
    value: Box<dyn Codec>,
    key_columns: usize,
}

impl Run {
    async fn run(self, progress: Arc<ConnectorProgress>, mut stopped: watch::Receiver<bool>) {
        let start_row = progress.next_row.load(Ordering::Relaxed);
        let started = Instant::now();
        let mut logged = Instant::now();
        tracing::info!(topic = %self.topic, connector = %self.spec.name, first_row = start_row, "connector started");
        loop {
            let next = progress.next_row.load(Ordering::Relaxed);
            let remaining = self.spec.max_events.map_or(u64::MAX, |max| max.saturating_sub(next));
            if remaining == 0 {
                progress.finished.store(true, Ordering::Relaxed);
                tracing::info!(topic = %self.topic, rows = next, "connector finished");
                return;
            }
            let due = match self.spec.events_per_second {
                0 => CHUNK,
                rate => {
                    let allowed = start_row + (started.elapsed().as_secs_f64() * rate as f64) as u64;
                    if allowed <= next {
                        // Sleep until the next row is due, or until stopped.
                        let wait = Duration::from_secs_f64(((next + 1 - start_row) as f64 / rate as f64).max(0.0))
                            .saturating_sub(started.elapsed())
                            .max(Duration::from_millis(1));
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => continue,
                            _ = stopped.changed() => return,
                        }
                    }
                    (allowed - next).min(CHUNK)
                }
            };
            if *stopped.borrow() {
                return;
            }
            let count = due.min(remaining);
            match self.write(next, count).await {
                Ok(()) => progress.next_row.store(next + count, Ordering::Relaxed),
                Err(e) => {
                    tracing::error!(topic = %self.topic, error = %e, "connector stopped");
                    if let Ok(mut slot) = progress.error.lock() {
                        *slot = Some(e.to_string());
                    }
                    progress.finished.store(true, Ordering::Relaxed);
                    return;
                }
            }
            if logged.elapsed() >= PROGRESS_EVERY {
                logged = Instant::now();
                tracing::info!(topic = %self.topic, rows = next + count, "connector progress");
            }
        }
    }

    /// Generates, encodes and writes rows `first..first + count`.
    async fn write(&self, first: u64, count: u64) -> Result<()> {
        let mut records = Vec::with_capacity(count as usize);
        for i in first..first + count {
            let row = self.spec.row(i)?;
            let (keys, values) = row.values.split_at(self.key_columns.min(row.values.len()));
            records.push(OutputRecord {
                timestamp: row.timestamp,
                key: self.key.encode(keys)?,
                value: self.value.encode(values)?,
                headers: Vec::new(),
            });
        }
        self.broker.produce(&self.topic, records).await
    }
}
