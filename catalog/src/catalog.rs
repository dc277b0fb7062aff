//! The in-memory catalog: sources by name and persistent queries by id.

use std::collections::BTreeMap;

use crate::error::{CatalogError, Result};
use crate::{Source, SourceKind};

/// A persistent query's kind, which names its id as ksqlDB does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    CreateStreamAsSelect,
    CreateTableAsSelect,
    InsertQuery,
}

impl QueryKind {
    /// The kind of a query creating a stream (CSAS) or a table (CTAS).
    pub fn creating(kind: SourceKind) -> Self {
        match kind {
            SourceKind::Stream => Self::CreateStreamAsSelect,
            SourceKind::Table => Self::CreateTableAsSelect,
        }
    }

    /// The id prefix: CSAS, CTAS or INSERTQUERY.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::CreateStreamAsSelect => "CSAS",
            Self::CreateTableAsSelect => "CTAS",
            Self::InsertQuery => "INSERTQUERY",
        }
    }
}

/// A persistent query as the catalog knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryInfo {
    pub id: String,
    pub kind: QueryKind,
    pub statement: String,
    pub sources: Vec<String>,
    pub sink: String,
    pub sink_topic: String,
}

/// Sources and persistent queries.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    sources: BTreeMap<String, Source>,
    queries: BTreeMap<String, QueryInfo>,
    next_query_number: u64,
}

impl Catalog {
    /// Looks a source up by name.
    pub fn source(&self, name: &str) -> Result<&Source> {
        self.sources.get(name).ok_or_else(|| CatalogError::NotFound { kind: "Source", name: name.into() })
    }

    /// Whether a source exists.
    pub fn has_source(&self, name: &str) -> bool {
        self.sources.contains_key(name)
    }

    /// All sources in name order.
    pub fn sources(&self) -> impl Iterator<Item = &Source> {
        self.sources.values()
    }

    /// Adds or replaces a source.
    pub fn put_source(&mut self, source: Source) {
        self.sources.insert(source.name.clone(), source);
    }

    /// Removes a source.
    pub fn remove_source(&mut self, name: &str) -> Option<Source> {
        self.sources.remove(name)
    }

    /// All persistent queries in id order.
    pub fn queries(&self) -> impl Iterator<Item = &QueryInfo> {
        self.queries.values()
    }

    /// Looks a query up by id.
    pub fn query(&self, id: &str) -> Option<&QueryInfo> {
        self.queries.get(id)
    }

    /// The id [`Catalog::next_query_id`] gives next, without taking it.
    pub fn peek_query_id(&self, kind: QueryKind, sink: &str) -> String {
        format!("{}_{}_{}", kind.prefix(), sink, self.next_query_number)
    }

    /// The next query id for a sink, as ksqlDB names them: `CSAS_NAME_7`.
    pub fn next_query_id(&mut self, kind: QueryKind, sink: &str) -> String {
        let n = self.next_query_number;
        self.next_query_number += 1;
        format!("{}_{}_{}", kind.prefix(), sink, n)
    }

    /// Makes sure ids given by replayed commands are never reused.
    pub fn observe_query_id(&mut self, id: &str) {
        if let Some(n) = id.rsplit('_').next().and_then(|n| n.parse::<u64>().ok()) {
            self.next_query_number = self.next_query_number.max(n + 1);
        }
    }

    /// Registers a persistent query.
    pub fn put_query(&mut self, query: QueryInfo) {
        self.observe_query_id(&query.id);
        self.queries.insert(query.id.clone(), query);
    }

    /// Removes a persistent query.
    pub fn remove_query(&mut self, id: &str) -> Option<QueryInfo> {
        self.queries.remove(id)
    }

    /// Queries that read or write a source.
    pub fn queries_using(&self, source: &str) -> Vec<&QueryInfo> {
        self.queries.values().filter(|q| q.sink == source || q.sources.iter().any(|s| s == source)).collect()
    }
}
