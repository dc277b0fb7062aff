//! Eddy's streams and tables as the DataFusion tables of schema `public`: a table answers with each
//! key's latest row from its materialized view (only the keys that equality filters on its key
//! fix, when they fix them), a stream with its records up to now (the snapshot a ksqlDB pull query
//! reads).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::TableProvider;
use datafusion::common::DataFusionError;
use eddy_catalog::{Catalog, Source};
use eddy_parser::{parse_statements, Statement};
use eddy_planner::{plan_pull, PullOptions, PullPlan};
use tokio::sync::watch;

pub use super::source_table::SourceTable;
use crate::views::Views;

/// The catalog as the SQL engine sees it: replaced whole after every DDL statement.
pub type CatalogView = watch::Receiver<Arc<Catalog>>;

/// The `public` schema: one relation per stream and table of the catalog, named as in Eddy.
#[derive(Clone)]
pub struct SourceRelations {
    catalog: CatalogView,
    views: Arc<Views>,
}

impl std::fmt::Debug for SourceRelations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceRelations").field("sources", &self.table_names_now()).finish()
    }
}

impl SourceRelations {
    /// Relations over a catalog view: tables read from their materialized views, streams scanned.
    pub fn new(catalog: CatalogView, views: Arc<Views>) -> Self {
        Self { catalog, views }
    }

    /// The catalog now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.borrow().clone()
    }

    fn table_names_now(&self) -> Vec<String> {
        self.catalog().sources().map(|s| s.name.clone()).collect()
    }

    /// The relation of a stream or table (exact name).
    pub fn relation(&self, name: &str) -> Result<Option<SourceTable>, DataFusionError> {
        let catalog = self.catalog();
        let Ok(source) = catalog.source(name) else { return Ok(None) };
        let plan = select_star(source, &catalog)?;
        Ok(Some(SourceTable::new(source, plan, self.views.clone())))
    }
}

/// `SELECT * FROM name` as ksqlDB plans it: keys, window bounds, values (and headers), in order.
fn select_star(source: &Source, catalog: &Catalog) -> Result<PullPlan, DataFusionError> {
    let text = format!("SELECT * FROM `{}`;", source.name.replace('`', "``"));
    let parsed = parse_statements(&text).map_err(|e| DataFusionError::Plan(e.message))?;
    let Some(Statement::Select(select)) = parsed.into_iter().next().map(|p| p.statement) else {
        return Err(DataFusionError::Internal(format!("cannot plan a scan of {}", source.name)));
    };
    plan_pull(&select, catalog, PullOptions::default()).map_err(|e| DataFusionError::Plan(e.message))
}

#[async_trait]
impl datafusion::catalog::SchemaProvider for SourceRelations {
    fn table_names(&self) -> Vec<String> {
        self.table_names_now()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        Ok(self.relation(name)?.map(|t| Arc::new(t) as Arc<dyn TableProvider>))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.catalog().has_source(name)
    }
}
