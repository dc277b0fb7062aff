//! A table's materialized view: each key's latest record, kept from the table's topic, read by pull
//! queries without rereading the topic. Rows are held per partition in key-byte order, the order a
//! RocksDB store iterates (so a scan with LIMIT returns the rows ksqlDB returns), and a key lookup
//! is a map lookup, not a scan.
//!
//! Keys are held canonically (a key's bytes decoded and encoded again by the table's key format),
//! so a lookup by encoded key values finds a record whatever spacing or field order its producer
//! wrote.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::error::Result;
use crate::record::Record;

/// Turns a record's key bytes into the canonical bytes the view is keyed by (None: the key cannot
/// be decoded; the record is left out, as the table's queries leave it out).
pub type KeyCanon = Arc<dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync>;

/// Each key's latest record of a table topic.
pub struct TableView {
    partitions: BTreeMap<i32, BTreeMap<Vec<u8>, Record>>,
    /// The partition holding each key: a lookup searches one partition's rows, not every one.
    index: HashMap<Vec<u8>, i32>,
    /// The next offset to apply, per partition.
    next: HashMap<i32, i64>,
    canon: Option<KeyCanon>,
}

/// A view shared between the feed that fills it and the queries that read it. The lock is held
/// only to apply or copy records, never across I/O.
pub type SharedView = Arc<RwLock<TableView>>;

impl TableView {
    /// An empty view; `canon` makes keys canonical (None: key bytes are used as they are).
    pub fn new(canon: Option<KeyCanon>) -> Self {
        Self { partitions: BTreeMap::new(), index: HashMap::new(), next: HashMap::new(), canon }
    }

    /// A view behind a lock, for a feed and its readers.
    pub fn shared(canon: Option<KeyCanon>) -> SharedView {
        Arc::new(RwLock::new(Self::new(canon)))
    }

    /// Applies a record of the topic: an upsert, or a deletion (a tombstone). Records at offsets
    /// already applied are ignored; records without a key are left out (tables drop them).
    pub fn apply(&mut self, record: Record) {
        let next = self.next.entry(record.partition).or_insert(0);
        if record.offset < *next {
            return;
        }
        *next = record.offset + 1;
        let Some(key) = record.key.as_deref() else { return };
        let key = match &self.canon {
            Some(canon) => match canon(key) {
                Some(k) => k,
                None => return,
            },
            None => key.to_vec(),
        };
        let partition = record.partition;
        if record.value.is_none() {
            if let Some(rows) = self.partitions.get_mut(&partition) {
                rows.remove(&key);
            }
            if self.index.get(&key) == Some(&partition) {
                self.index.remove(&key);
            }
            return;
        }
        // A key written to another partition than before (its producers disagree on partitioners)
        // is held in both, as the topic holds it (a scan shows both); the index points to the latest.
        self.index.insert(key.clone(), partition);
        self.partitions.entry(partition).or_default().insert(key, record);
    }

    /// The next offset to apply, per partition seen.
    pub fn offsets(&self) -> &HashMap<i32, i64> {
        &self.next
    }

    /// Whether every offset below `ends` (per partition) has been applied.
    pub fn covers(&self, ends: &HashMap<i32, i64>) -> bool {
        ends.iter().all(|(p, end)| self.next.get(p).copied().unwrap_or(0) >= *end)
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.partitions.values().map(BTreeMap::len).sum()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record of a canonical key: the latest written (a key normally lives in one partition;
    /// if its producers disagreed, the partition it was last written to answers, as a store routed
    /// to by key would).
    pub fn lookup(&self, key: &[u8]) -> Vec<Record> {
        let Some(partition) = self.index.get(key) else { return Vec::new() };
        self.partitions.get(partition).and_then(|rows| rows.get(key)).cloned().into_iter().collect()
    }

    /// The records whose canonical key starts with `prefix` (a windowed table's key, whose stored
    /// key carries the window after it), in key order per partition.
    pub fn with_prefix(&self, prefix: &[u8]) -> Vec<Record> {
        let mut out = Vec::new();
        for rows in self.partitions.values() {
            out.extend(
                rows.range(prefix.to_vec()..).take_while(|(k, _)| k.starts_with(prefix)).map(|(_, r)| r.clone()),
            );
        }
        out
    }

    /// Every record: partitions in order, keys in byte order within each.
    pub fn scan(&self) -> Vec<Record> {
        self.partitions.values().flat_map(|rows| rows.values().cloned()).collect()
    }
}

/// Keeps a view up to date with its topic.
#[async_trait]
pub trait ViewFeed: Send + Sync {
    /// Returns once the view holds every record written when the view was opened and every record
    /// this process has produced to the topic since (read-your-writes); errors if the topic cannot
    /// be read or this takes too long.
    async fn sync(&self) -> Result<()>;
}

/// A feed that reads the whole topic again on every sync: correct on any broker, for brokers
/// without a cheaper way.
pub struct RereadFeed {
    pub broker: Arc<dyn crate::Broker>,
    pub topic: String,
    pub view: SharedView,
}

#[async_trait]
impl ViewFeed for RereadFeed {
    async fn sync(&self) -> Result<()> {
        let records = self.broker.read_all(&self.topic).await?;
        let mut view = self.view.write().unwrap_or_else(|p| p.into_inner());
        for r in records {
            view.apply(r);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(partition: i32, offset: i64, key: &str, value: Option<&str>) -> Record {
        Record {
            partition,
            offset,
            timestamp: 0,
            key: Some(key.as_bytes().to_vec()),
            value: value.map(|v| v.as_bytes().to_vec()),
            headers: Vec::new(),
        }
    }

    #[test]
    fn keeps_latest_per_key_in_key_order_and_applies_each_offset_once() {
        let mut view = TableView::new(None);
        for r in [
            record(0, 0, "b", Some("1")),
            record(0, 1, "a", Some("2")),
            record(1, 0, "c", Some("3")),
            record(0, 2, "b", Some("4")),
            record(0, 3, "a", None),
            record(0, 1, "a", Some("replayed")),
        ] {
            view.apply(r);
        }
        let seen: Vec<String> = view
            .scan()
            .iter()
            .map(|r| format!("{}:{}", String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()), r.offset))
            .collect();
        assert_eq!(seen, vec!["b:2", "c:0"]);
        assert_eq!(view.lookup(b"b").len(), 1);
        assert!(view.lookup(b"a").is_empty());
        assert!(view.covers(&HashMap::from([(0, 4), (1, 1)])));
        assert!(!view.covers(&HashMap::from([(1, 2)])));
    }

    #[test]
    fn canonical_keys_and_prefixes() {
        let canon: KeyCanon = Arc::new(|k: &[u8]| Some(k.iter().filter(|b| **b != b' ').copied().collect()));
        let mut view = TableView::new(Some(canon));
        view.apply(record(0, 0, "{\"A\": 1}w1", Some("x")));
        view.apply(record(0, 1, "{\"A\":1}w2", Some("y")));
        view.apply(record(0, 2, "{\"A\":2}w1", Some("z")));
        assert_eq!(view.with_prefix(b"{\"A\":1}").len(), 2);
        assert_eq!(view.lookup(b"{\"A\":1}w1").len(), 1);
    }

    #[test]
    fn a_lookup_reads_the_partition_a_key_was_last_written_to() {
        let mut view = TableView::new(None);
        view.apply(record(0, 0, "k", Some("old")));
        view.apply(record(1, 0, "k", Some("new")));
        let found = view.lookup(b"k");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].value.as_deref(), Some(&b"new"[..]));
        assert_eq!(view.scan().len(), 2, "a scan shows what each partition holds");
        view.apply(record(1, 1, "k", None));
        assert!(view.lookup(b"k").is_empty());
        assert!(view.lookup(b"missing").is_empty());
    }
}
