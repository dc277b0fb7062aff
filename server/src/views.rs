//! Tables' materialized views, opened on a table's first pull query and kept up to date by the
//! broker's feed: pull queries and the SQL engine read a table's rows from here, by key when the
//! query fixes its keys (DESIGN §5: key lookups pushed down to the store, not scans).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use eddy_catalog::Catalog;
use eddy_planner::KeyAccess;
use eddy_runtime::format::{codec_for, Codec, Role};
use eddy_runtime::{Broker, KeyCanon, Record, RereadFeed, Result, SharedView, SourceSpec, TableView, ViewFeed};

/// A table's view with its feed and key encoding.
struct Materialized {
    view: SharedView,
    feed: Box<dyn ViewFeed>,
    /// Encodes lookup values as the view's canonical keys.
    keys: Arc<dyn Codec>,
}

/// Identifies a view: its topic and how its keys read (a table recreated over the same topic with
/// another key schema gets a new view).
type ViewId = (String, String);

fn view_id(source: &SourceSpec) -> ViewId {
    (source.topic.clone(), format!("{:?}|{:?}|{:?}", source.key_format, source.key_columns, source.window))
}

/// The open views.
pub struct Views {
    broker: Arc<dyn Broker>,
    open: Mutex<HashMap<ViewId, Arc<Materialized>>>,
    /// Serializes opening, so concurrent first queries share one feed.
    opening: tokio::sync::Mutex<()>,
}

impl Views {
    /// No view open yet.
    pub fn new(broker: Arc<dyn Broker>) -> Self {
        Self { broker, open: Mutex::default(), opening: tokio::sync::Mutex::new(()) }
    }

    /// Closes the views of topics no table of `catalog` reads any more.
    pub fn retain(&self, catalog: &Catalog) {
        let topics: Vec<String> =
            catalog.sources().filter(|s| s.kind == eddy_catalog::SourceKind::Table).map(|s| s.topic.clone()).collect();
        self.lock().retain(|(topic, _), _| topics.contains(topic));
    }

    /// The broker views read from (streams are scanned on it directly).
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    /// How many views are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no view is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ViewId, Arc<Materialized>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn materialized(&self, source: &SourceSpec) -> Result<Arc<Materialized>> {
        let id = view_id(source);
        if let Some(m) = self.lock().get(&id) {
            return Ok(m.clone());
        }
        let _opening = self.opening.lock().await;
        if let Some(m) = self.lock().get(&id) {
            return Ok(m.clone());
        }
        let columns = source.key_columns.clone();
        let keys: Arc<dyn Codec> = Arc::from(codec_for(&source.key_format, columns.clone(), Role::Key)?);
        let view = TableView::shared(key_canon(source, keys.clone()));
        let feed = match self.broker.follow(&source.topic, view.clone()).await? {
            Some(feed) => feed,
            None => {
                Box::new(RereadFeed { broker: self.broker.clone(), topic: source.topic.clone(), view: view.clone() })
            }
        };
        let m = Arc::new(Materialized { view, feed, keys });
        self.lock().insert(id, m.clone());
        Ok(m)
    }

    /// The current records of a table that a pull query reads: the keys of a lookup, else every
    /// row (partitions in order, keys in byte order, as ksqlDB's stores iterate).
    pub async fn rows(&self, source: &SourceSpec, access: &KeyAccess) -> Result<Vec<Record>> {
        let m = self.materialized(source).await?;
        m.feed.sync().await?;
        let view = m.view.read().unwrap_or_else(|p| p.into_inner());
        let KeyAccess::Lookup(keys) = access else { return Ok(view.scan()) };
        let mut out = Vec::new();
        for values in keys {
            // A key that cannot be encoded (a value no record key can hold) matches nothing.
            let Ok(Some(key)) = m.keys.encode(values) else { continue };
            match source.window {
                None => out.extend(view.lookup(&key)),
                Some(kind) => {
                    let canon = key_canon(source, m.keys.clone());
                    // Keys that merely start with the lookup key's bytes are not it: compare the
                    // canonical key without its window suffix.
                    out.extend(view.with_prefix(&key).into_iter().filter(|r| {
                        let Some(stored) = r.key.as_deref() else { return false };
                        let Some((bare, _, _)) = kind.split(stored) else { return false };
                        let suffix = stored.len() - bare.len();
                        let canonical = match &canon {
                            Some(c) => c(stored),
                            None => Some(stored.to_vec()),
                        };
                        canonical.is_some_and(|c| c.len() >= suffix && c[..c.len() - suffix] == key[..])
                    }));
                }
            }
        }
        Ok(out)
    }
}

/// How a table's record keys become canonical: KAFKA keys are fixed-width or raw bytes already;
/// other formats are decoded and encoded again (windowed keys keep their window suffix).
fn key_canon(source: &SourceSpec, codec: Arc<dyn Codec>) -> Option<KeyCanon> {
    if source.key_format.format == eddy_catalog::Format::Kafka {
        return None;
    }
    let window = source.window;
    Some(Arc::new(move |bytes: &[u8]| {
        let (key, suffix) = match window {
            Some(kind) => {
                let (key, _, _) = kind.split(bytes)?;
                (key, &bytes[key.len()..])
            }
            None => (bytes, &bytes[..0]),
        };
        let values = codec.decode(Some(key)).ok()?;
        let mut canonical = codec.encode(&values).ok()??;
        canonical.extend_from_slice(suffix);
        Some(canonical)
    }))
}
