//! Eddy's streams and tables as the DataFusion tables of schema `public`: a table answers with each
//! key's latest row, a stream with its records up to now (the same snapshot a ksqlDB pull query reads).

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Constraint, Constraints, DataFusionError};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use eddy_catalog::{arrow_type, Catalog, Source, SourceKind};
use eddy_parser::{parse_statements, Statement};
use eddy_planner::{plan_pull, PullPlan};
use eddy_runtime::{Broker, QueryMetrics};
use tokio::sync::watch;

/// The catalog as the SQL engine sees it: replaced whole after every DDL statement.
pub type CatalogView = watch::Receiver<Arc<Catalog>>;

/// The `public` schema: one relation per stream and table of the catalog, named as in Eddy.
#[derive(Clone)]
pub struct SourceRelations {
    catalog: CatalogView,
    broker: Arc<dyn Broker>,
}

impl std::fmt::Debug for SourceRelations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceRelations").field("sources", &self.table_names_now()).finish()
    }
}

impl SourceRelations {
    /// Relations over a catalog view, scanned on a broker.
    pub fn new(catalog: CatalogView, broker: Arc<dyn Broker>) -> Self {
        Self { catalog, broker }
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
        Ok(Some(SourceTable::new(source, plan, self.broker.clone())))
    }
}

/// `SELECT * FROM name` as ksqlDB plans it: keys, window bounds, values (and headers), in order.
fn select_star(source: &Source, catalog: &Catalog) -> Result<PullPlan, DataFusionError> {
    let text = format!("SELECT * FROM `{}`;", source.name.replace('`', "``"));
    let parsed = parse_statements(&text).map_err(|e| DataFusionError::Plan(e.message))?;
    let Some(Statement::Select(select)) = parsed.into_iter().next().map(|p| p.statement) else {
        return Err(DataFusionError::Internal(format!("cannot plan a scan of {}", source.name)));
    };
    plan_pull(&select, catalog).map_err(|e| DataFusionError::Plan(e.message))
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

/// A stream or table: its rows are read from its topic when a query scans it.
pub struct SourceTable {
    name: String,
    kind: SourceKind,
    /// Positions of the primary key's columns (tables only).
    key: Vec<usize>,
    plan: PullPlan,
    schema: SchemaRef,
    constraints: Constraints,
    broker: Arc<dyn Broker>,
}

impl SourceTable {
    fn new(source: &Source, plan: PullPlan, broker: Arc<dyn Broker>) -> Self {
        let is_key = |name: &str| {
            source.column(name).is_some_and(|col| col.is_key())
                || (source.window.is_some() && (name == "WINDOWSTART" || name == "WINDOWEND"))
        };
        // A table's key is never NULL (ksqlDB drops records without one).
        let fields: Vec<Field> = plan
            .query
            .columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(&c.ty), !(source.kind == SourceKind::Table && is_key(&c.name))))
            .collect();
        // A table's primary key: its key columns (windowed tables add the window bounds).
        let keys: Vec<usize> = match source.kind {
            SourceKind::Table => {
                plan.query.columns.iter().enumerate().filter(|(_, c)| is_key(&c.name)).map(|(i, _)| i).collect()
            }
            SourceKind::Stream => Vec::new(),
        };
        let constraints = if keys.is_empty() {
            Constraints::default()
        } else {
            Constraints::new_unverified(vec![Constraint::PrimaryKey(keys.clone())])
        };
        let schema = Arc::new(Schema::new(fields));
        Self { name: source.name.clone(), kind: source.kind, key: keys, plan, schema, constraints, broker }
    }

    /// The stream's or table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Positions of the primary key's columns in the schema (empty for streams).
    pub fn primary_key(&self) -> &[usize] {
        &self.key
    }

    /// The relation's columns.
    pub fn schema_ref(&self) -> &SchemaRef {
        &self.schema
    }

    /// Whether this is a stream or a table.
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// The current rows, with this table's schema.
    async fn rows(&self) -> Result<Vec<RecordBatch>, DataFusionError> {
        let width = self.schema.fields().len();
        let batches = self
            .broker
            .pull(&self.plan.query.dataflow, self.plan.kind, Arc::new(QueryMetrics::default()))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        batches
            .iter()
            .map(|b| {
                // Output batches lead with ROWTIME and end with columns only sinks use.
                let columns: Vec<ArrayRef> = b.columns().iter().skip(1).take(width).cloned().collect();
                RecordBatch::try_new(self.schema.clone(), columns).map_err(DataFusionError::from)
            })
            .collect()
    }
}

impl std::fmt::Debug for SourceTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceTable").field("kind", &self.kind).field("schema", &self.schema).finish()
    }
}

#[async_trait]
impl TableProvider for SourceTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn constraints(&self) -> Option<&Constraints> {
        Some(&self.constraints)
    }

    /// Tables are tables; streams are listed as views (an append-only relation clients only read).
    fn table_type(&self) -> TableType {
        match self.kind {
            SourceKind::Table => TableType::Base,
            SourceKind::Stream => TableType::View,
        }
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        let rows = self.rows().await?;
        let exec = MemorySourceConfig::try_new_exec(&[rows], self.schema.clone(), projection.cloned())?;
        Ok(exec)
    }
}
