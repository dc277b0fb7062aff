//! The Kafka implementation of `Broker`: rdkafka producers and consumers driven by tokio tasks.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::admin::TopicAdmin;
use super::capacity::PartitionCapacity;
use super::client::ClientSettings;
use super::embedded::EmbeddedKafka;
use super::view_feed::Produced;
use super::{print, push, query_task, view_feed};
use crate::broker::{Broker, RecordStream, RowStream, RunningQuery, TopicInfo};
use crate::dataflow::Dataflow;
use crate::error::{Result, RuntimeError};
use crate::metrics::QueryMetrics;
use crate::processing_log::{ErrorClass, ProcessingError, ProcessingLog};
use crate::query_options::QueryOptions;
use crate::record::{OutputRecord, Record};
use crate::view::{SharedView, ViewFeed};

/// A Kafka cluster (external, or the embedded mock cluster).
pub struct KafkaBroker {
    settings: ClientSettings,
    admin: Arc<dyn TopicAdmin>,
    producer: FutureProducer,
    /// What `produce` wrote, so table views show a session's own inserts.
    produced: Produced,
    /// Keeps the embedded cluster alive as long as the broker.
    _embedded: Option<Arc<EmbeddedKafka>>,
    /// What Eddy wrote to each partition of the embedded cluster (none for a real one).
    capacity: Option<Arc<PartitionCapacity>>,
    /// Where persistent queries log their failures, if anywhere.
    processing_log: Option<ProcessingLog>,
    /// The service id, which names the queries' internal topics (`repartition_topic`).
    service_id: String,
}

impl KafkaBroker {
    /// A broker over a cluster with the given admin.
    pub fn new(
        settings: ClientSettings,
        admin: Arc<dyn TopicAdmin>,
        embedded: Option<Arc<EmbeddedKafka>>,
    ) -> Result<Self> {
        let producer = settings.producer().create()?;
        let capacity = embedded.as_ref().map(|_| Arc::new(PartitionCapacity::default()));
        Ok(Self {
            settings,
            admin,
            producer,
            produced: Produced::default(),
            _embedded: embedded,
            capacity,
            processing_log: None,
            service_id: "default".into(),
        })
    }

    /// The same broker, its persistent queries writing their failures to `log`.
    pub fn with_processing_log(self, log: ProcessingLog) -> Self {
        Self { processing_log: Some(log), ..self }
    }

    /// The same broker for the servers of `service_id`: their queries share consumer groups and
    /// internal topics.
    pub fn with_service_id(self, service_id: &str) -> Self {
        Self { service_id: service_id.to_string(), ..self }
    }

    /// Creates a query's repartition topic with its input's partition count, when its dataflow has
    /// one; returns its name.
    async fn create_repartition_topic(&self, id: &str, dataflow: &Dataflow) -> Result<Option<String>> {
        if dataflow.repartition().is_none() {
            return Ok(None);
        }
        let topic = crate::repartition::repartition_topic(&self.service_id, id);
        let mut partitions = 1;
        for input in dataflow.input.topics() {
            partitions = partitions.max(self.partitions(&input).await?.unwrap_or(1));
        }
        self.create_topic(&topic, partitions, 1).await?;
        Ok(Some(topic))
    }

    /// The client settings, for components that make their own clients.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }
}

/// Builds Kafka headers from a record's headers.
pub(crate) fn kafka_headers(headers: &[(String, Option<Vec<u8>>)]) -> Option<OwnedHeaders> {
    if headers.is_empty() {
        return None;
    }
    let mut out = OwnedHeaders::new_with_capacity(headers.len());
    for (k, v) in headers {
        out = out.insert(Header { key: k, value: v.as_deref() });
    }
    Some(out)
}

/// What `send_all` does with a record the broker refuses on its own account (too large): fail the
/// whole call, or skip it and count an error on the query's metrics.
#[derive(Clone, Copy)]
pub(crate) enum Unproducible<'a> {
    Fail,
    Skip(&'a QueryMetrics),
}

/// Whether a production error is the record's own (it would fail again), not the broker's.
fn refused_record(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode::{InvalidRecord, MessageSizeTooLarge};
    matches!(e.rdkafka_error_code(), Some(MessageSizeTooLarge | InvalidRecord))
}

/// Where `send_all` writes.
pub(crate) struct Destination<'a> {
    pub producer: &'a FutureProducer,
    pub topic: &'a str,
    /// The producer's largest record, named in the error for a larger one.
    pub max_message_bytes: usize,
    /// The embedded broker's room per partition, when the cluster is the embedded one.
    pub capacity: Option<&'a PartitionCapacity>,
}

/// Produces records and waits for every acknowledgement; returns each produced record's
/// (partition, offset). A record the broker refuses is an error, or skipped and counted.
pub(crate) async fn send_all(
    to: &Destination<'_>,
    records: &[OutputRecord],
    unproducible: Unproducible<'_>,
) -> Result<Vec<(i32, i64)>> {
    let Destination { producer, topic, max_message_bytes, capacity } = *to;
    let size = |r: &OutputRecord| r.key.as_ref().map_or(0, Vec::len) + r.value.as_ref().map_or(0, Vec::len);
    let refused = |r: &OutputRecord, e: &rdkafka::error::KafkaError| -> Result<()> {
        let error = RuntimeError::RecordTooLarge { topic: topic.to_string(), bytes: size(r), limit: max_message_bytes };
        match unproducible {
            Unproducible::Skip(metrics) => {
                let message = format!("record skipped: the broker refused it: {error} ({e})");
                metrics.record_error(ProcessingError::new(ErrorClass::Production, message));
                Ok(())
            }
            Unproducible::Fail => Err(error),
        }
    };
    let mut pending = Vec::with_capacity(records.len());
    for r in records {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).timestamp(r.timestamp);
        if let Some(k) = &r.key {
            record = record.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            record = record.payload(v.as_slice());
        }
        if let Some(h) = kafka_headers(&r.headers) {
            record = record.headers(h);
        }
        let mut record = record;
        loop {
            match producer.send_result(record) {
                Ok(delivery) => {
                    pending.push((r, delivery));
                    break;
                }
                Err((
                    rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    back,
                )) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((e, _)) if refused_record(&e) => {
                    refused(r, &e)?;
                    break;
                }
                Err((e, _)) => return Err(RuntimeError::Kafka(format!("cannot produce to {topic}: {e}"))),
            }
        }
    }
    let mut written = Vec::with_capacity(pending.len());
    for (r, delivery) in pending {
        match delivery.await {
            Ok(Ok(at)) => {
                if let Some(capacity) = capacity {
                    let headers: usize = r.headers.iter().map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len)).sum();
                    capacity.note(topic, at.partition, at.offset, size(r) + headers);
                }
                written.push((at.partition, at.offset))
            }
            Ok(Err((e, _))) if refused_record(&e) => refused(r, &e)?,
            Ok(Err((e, _))) => return Err(RuntimeError::Kafka(format!("cannot produce to {topic}: {e}"))),
            Err(_) => return Err(RuntimeError::Kafka(format!("producer for {topic} was dropped"))),
        }
    }
    Ok(written)
}

#[async_trait]
impl Broker for KafkaBroker {
    fn bootstrap(&self) -> Option<String> {
        Some(self.settings.bootstrap.clone())
    }

    async fn create_topic(&self, name: &str, partitions: i32, replicas: i16) -> Result<()> {
        // Idempotent: a topic an operator created beforehand is used as it is.
        if self.partitions(name).await?.is_some() {
            return Ok(());
        }
        self.admin.create_topic(name, partitions, replicas).await?;
        // Wait until the topic shows in metadata, so that what follows can use it.
        for _ in 0..100 {
            if self.partitions(name).await?.is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(RuntimeError::Kafka(format!("topic {name} was created but does not show in metadata")))
    }

    async fn delete_topic(&self, name: &str) -> Result<()> {
        self.admin.delete_topic(name).await
    }

    async fn topics(&self) -> Result<Vec<TopicInfo>> {
        self.admin.topics().await
    }

    async fn produce_for_client(&self, topic: &str, records: Vec<OutputRecord>) -> Result<Option<String>> {
        let before = self.capacity.as_ref().map(|c| c.warned());
        self.produce(topic, records).await?;
        Ok(match (&self.capacity, before) {
            (Some(c), Some(before)) if c.warned() > before => Some(format!(
                "the embedded broker keeps at most 5 MiB per partition: writing to topic '{topic}' deletes its \
                 oldest records (queries that had not read them report them as lost); use --kafka for a real broker"
            )),
            _ => None,
        })
    }

    async fn produce(&self, topic: &str, records: Vec<OutputRecord>) -> Result<()> {
        let to = Destination {
            producer: &self.producer,
            topic,
            max_message_bytes: self.settings.max_message_bytes(),
            capacity: self.capacity.as_deref(),
        };
        let written = send_all(&to, &records, Unproducible::Fail).await?;
        let mut produced = self.produced.lock().unwrap_or_else(|p| p.into_inner());
        let ends = produced.entry(topic.to_string()).or_default();
        for (partition, offset) in written {
            let end = ends.entry(partition).or_insert(0);
            *end = (*end).max(offset + 1);
        }
        Ok(())
    }

    async fn follow(&self, topic: &str, view: SharedView) -> Result<Option<Box<dyn ViewFeed>>> {
        Ok(Some(Box::new(view_feed::open(&self.settings, topic, view, self.produced.clone()).await?)))
    }

    async fn read_all(&self, topic: &str) -> Result<Vec<Record>> {
        let config = self.settings.consumer(&format!("_eddy_reader_{}", std::process::id()), true);
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || read_to_end(config, &topic))
            .await
            .map_err(|e| RuntimeError::Internal(e.to_string()))?
    }

    async fn records_written(&self, topic: &str) -> Result<u64> {
        let config = self.settings.consumer(&format!("_eddy_reader_{}", std::process::id()), true);
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create()?;
            let mut total = 0u64;
            for p in super::push::partition_ids(&consumer, &topic)? {
                let (_, high) = consumer.fetch_watermarks(&topic, p, Duration::from_secs(10))?;
                total += high.max(0) as u64;
            }
            Ok(total)
        })
        .await
        .map_err(|e| RuntimeError::Internal(e.to_string()))?
    }

    async fn prepare_query(&self, id: &str, dataflow: &Dataflow) -> Result<()> {
        self.create_repartition_topic(id, dataflow).await.map(|_| ())
    }

    async fn start_query(
        &self,
        id: &str,
        dataflow: Dataflow,
        options: QueryOptions,
        metrics: Arc<QueryMetrics>,
    ) -> Result<Box<dyn RunningQuery>> {
        if !options.earliest {
            let (settings, query, topics) = (self.settings.clone(), id.to_string(), dataflow.input.topics());
            tokio::task::spawn_blocking(move || query_task::pin_start_offsets(&settings, &query, &topics))
                .await
                .map_err(|e| RuntimeError::Internal(e.to_string()))??;
        }
        let outputs = query_task::Outputs {
            producer: self.producer.clone(),
            capacity: self.capacity.clone(),
            processing_log: self.processing_log.clone(),
        };
        // A re-keying aggregation goes through its repartition topic (made again if it went).
        let repartition = self.create_repartition_topic(id, &dataflow).await?;
        query_task::start(id, dataflow, &self.settings, outputs, (options.task_idle, repartition), metrics)
    }

    async fn start_push(
        &self,
        dataflow: Dataflow,
        options: QueryOptions,
        metrics: Arc<QueryMetrics>,
    ) -> Result<RowStream> {
        push::start(dataflow, &self.settings, options, metrics).await
    }

    async fn print(&self, topic: &str, from_beginning: bool) -> Result<RecordStream> {
        print::start(topic, &self.settings, from_beginning).await
    }
}

/// Bytes (keys, values and headers) a read of a whole topic holds at most: a larger topic is
/// refused ([`RuntimeError::ScanTooLarge`]) rather than read into memory. Default 1 GiB; the server
/// sets it from its configuration (`eddy.limit.pull.scan.bytes`).
pub static MAX_SCAN_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1 << 30);

/// Reads every record of a topic up to the high watermarks seen at the start.
fn read_to_end(config: rdkafka::ClientConfig, topic: &str) -> Result<Vec<Record>> {
    use rdkafka::{Message, Offset, TopicPartitionList};
    let consumer: BaseConsumer = config.create()?;
    let mut ends = Vec::new();
    let mut tpl = TopicPartitionList::new();
    for p in super::push::partition_ids(&consumer, topic)? {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        if high > low {
            ends.push((p, high));
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        }
    }
    let mut out = Vec::new();
    if ends.is_empty() {
        return Ok(out);
    }
    consumer.assign(&tpl)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut positions: std::collections::HashMap<i32, i64> = std::collections::HashMap::new();
    let mut bytes = 0usize;
    while ends.iter().any(|(p, high)| positions.get(p).copied().unwrap_or(-1) + 1 < *high) {
        if std::time::Instant::now() > deadline {
            return Err(RuntimeError::Kafka(format!("timed out reading topic {topic}")));
        }
        if let Some(msg) = consumer.poll(Duration::from_millis(100)) {
            let msg = msg?;
            positions.insert(msg.partition(), msg.offset());
            let record = super::push::to_record(&msg);
            bytes += record.bytes();
            let most = MAX_SCAN_BYTES.load(std::sync::atomic::Ordering::Relaxed);
            if bytes > most {
                return Err(RuntimeError::ScanTooLarge { topic: topic.to_string(), limit: most });
            }
            out.push(record);
        }
    }
    Ok(out)
}
