//! One stream or table as a DataFusion table. A table's equality filters on its key columns
//! (`k = 'a'`, `k IN (...)`) are pushed down: the scan reads only those keys from the table's
//! materialized view, and `EXPLAIN` shows it (`ViewScanExec: TABLE T, key lookup of ('a')`).

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::cast;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Constraint, Constraints, DataFusionError, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use eddy_catalog::{arrow_type, Source, SourceKind, SqlType};
use eddy_planner::{KeyAccess, PullPlan};
use eddy_runtime::{array_value, evaluate_snapshot, QueryMetrics, Value};
use futures::StreamExt as _;

use crate::views::Views;

/// Key tuples beyond this many make the scan read every row instead.
const MAX_LOOKUPS: usize = 1024;

/// A stream or table of the catalog, read when a query runs.
pub struct SourceTable {
    name: String,
    kind: SourceKind,
    /// Positions of the primary key's columns (tables only).
    key: Vec<usize>,
    /// Key columns (name, type) in key order, for pushed-down lookups.
    key_columns: Vec<(String, SqlType)>,
    plan: Arc<PullPlan>,
    schema: SchemaRef,
    constraints: Constraints,
    views: Arc<Views>,
}

impl SourceTable {
    /// The relation of `source`, whose `SELECT *` pull plan is `plan`.
    pub fn new(source: &Source, plan: PullPlan, views: Arc<Views>) -> Self {
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
        let key_columns = match source.kind {
            SourceKind::Table => source.key_columns().map(|c| (c.name.clone(), c.ty.clone())).collect(),
            SourceKind::Stream => Vec::new(),
        };
        Self {
            name: source.name.clone(),
            kind: source.kind,
            key: keys,
            key_columns,
            plan: Arc::new(plan),
            schema: Arc::new(Schema::new(fields)),
            constraints,
            views,
        }
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

    /// The values a filter allows for key column `k`: `k = v` or `k IN (v, ...)` with literals.
    fn key_values(&self, filter: &Expr) -> Option<(usize, Vec<ScalarValue>)> {
        let position = |e: &Expr| match e {
            Expr::Column(c) => self.key_columns.iter().position(|(n, _)| *n == c.name),
            _ => None,
        };
        match filter {
            Expr::BinaryExpr(b) if b.op == Operator::Eq => match (b.left.as_ref(), b.right.as_ref()) {
                (col, Expr::Literal(v, _)) | (Expr::Literal(v, _), col) => position(col).map(|k| (k, vec![v.clone()])),
                _ => None,
            },
            // `k = a OR k = b` (DataFusion's form of a short IN list): every branch on one key.
            Expr::BinaryExpr(b) if b.op == Operator::Or => {
                let (k, mut values) = self.key_values(&b.left)?;
                let (k2, more) = self.key_values(&b.right)?;
                (k == k2).then(|| {
                    values.extend(more);
                    (k, values)
                })
            }
            Expr::InList(list) if !list.negated => {
                let k = position(&list.expr)?;
                let values: Option<Vec<ScalarValue>> = list
                    .list
                    .iter()
                    .map(|e| match e {
                        Expr::Literal(v, _) => Some(v.clone()),
                        _ => None,
                    })
                    .collect();
                values.map(|v| (k, v))
            }
            _ => None,
        }
    }

    /// The rows a scan with these filters must read: the keys they fix, when they fix every key
    /// column, else every row.
    fn access(&self, filters: &[Expr]) -> KeyAccess {
        if self.kind != SourceKind::Table || self.key_columns.is_empty() {
            return KeyAccess::Scan;
        }
        let mut fixed: Vec<Option<Vec<Value>>> = vec![None; self.key_columns.len()];
        for filter in filters {
            let Some((k, scalars)) = self.key_values(filter) else { continue };
            let Some(values) = scalars.iter().map(|s| key_value(s, &self.key_columns[k].1)).collect() else {
                continue;
            };
            // Two filters on one key: both hold, so the first alone is a superset of the answer.
            fixed[k].get_or_insert(values);
        }
        let Some(fixed) = fixed.into_iter().collect::<Option<Vec<Vec<Value>>>>() else { return KeyAccess::Scan };
        let mut tuples: Vec<Vec<Value>> = vec![Vec::new()];
        for values in fixed {
            if tuples.len() * values.len() > MAX_LOOKUPS {
                return KeyAccess::Scan;
            }
            tuples = tuples
                .into_iter()
                .flat_map(|t| {
                    values.iter().map(move |v| {
                        let mut t = t.clone();
                        t.push(v.clone());
                        t
                    })
                })
                .collect();
        }
        KeyAccess::Lookup(tuples)
    }
}

/// A literal as a key column's value; None when it cannot be one (the filter then just filters).
fn key_value(scalar: &ScalarValue, ty: &SqlType) -> Option<Value> {
    if scalar.is_null() {
        return None;
    }
    let array = scalar.to_array().ok()?;
    let array = cast(&array, &arrow_type(ty)).ok()?;
    match array_value(array.as_ref(), 0) {
        Value::Null => None,
        v => Some(v),
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

    /// Key equalities are used to pick rows (Inexact: DataFusion still applies every filter).
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>, DataFusionError> {
        Ok(filters
            .iter()
            .map(|f| match self.key_values(f) {
                Some(_) if self.kind == SourceKind::Table => TableProviderFilterPushDown::Inexact,
                _ => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        let projected = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(projected.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Ok(Arc::new(ViewScanExec {
            name: self.name.clone(),
            kind: self.kind,
            access: self.access(filters),
            plan: self.plan.clone(),
            schema: self.schema.clone(),
            projection: projection.cloned(),
            views: self.views.clone(),
            properties: Arc::new(properties),
        }))
    }
}

/// Reads a stream's or table's current rows when executed: a table's from its materialized view
/// (by key, or all of them), a stream's by a bounded scan.
#[derive(Debug)]
pub struct ViewScanExec {
    name: String,
    kind: SourceKind,
    access: KeyAccess,
    plan: Arc<PullPlan>,
    /// The relation's full schema; `projection` picks the columns returned.
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
    views: Arc<Views>,
    properties: Arc<PlanProperties>,
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views").field("open", &self.len()).finish()
    }
}

impl DisplayAs for ViewScanExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.kind {
            SourceKind::Table => write!(f, "ViewScanExec: TABLE {}, {}", self.name, self.access),
            SourceKind::Stream => write!(f, "ViewScanExec: STREAM {}, bounded scan", self.name),
        }
    }
}

impl ViewScanExec {
    async fn batches(&self) -> Result<Vec<RecordBatch>, DataFusionError> {
        let external = |e: eddy_runtime::RuntimeError| DataFusionError::External(Box::new(e));
        let source = self.plan.query.dataflow.input.first_source();
        let records = match self.kind {
            SourceKind::Table => self.views.rows(source, &self.access).await.map_err(external)?,
            SourceKind::Stream => self.views.broker().read_all(&source.topic).await.map_err(external)?,
        };
        let batches = evaluate_snapshot(&self.plan.query.dataflow, &records, Arc::new(QueryMetrics::default()))
            .map_err(external)?;
        let width = self.schema.fields().len();
        let projected = match &self.projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        batches
            .iter()
            .map(|b| {
                // Output batches lead with ROWTIME and end with columns only sinks use.
                let columns: Vec<ArrayRef> = b.columns().iter().skip(1).take(width).cloned().collect();
                let columns = match &self.projection {
                    Some(p) => p.iter().map(|i| columns[*i].clone()).collect(),
                    None => columns,
                };
                // `count(*)` projects no column: the row count carries the answer.
                let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
                RecordBatch::try_new_with_options(projected.clone(), columns, &options).map_err(DataFusionError::from)
            })
            .collect()
    }
}

impl ExecutionPlan for ViewScanExec {
    fn name(&self) -> &str {
        "ViewScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::common::Result<TreeNodeRecursion>,
    ) -> datafusion::common::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> datafusion::common::Result<SendableRecordBatchStream> {
        let this = ViewScanExec {
            name: self.name.clone(),
            kind: self.kind,
            access: self.access.clone(),
            plan: self.plan.clone(),
            schema: self.schema.clone(),
            projection: self.projection.clone(),
            views: self.views.clone(),
            properties: self.properties.clone(),
        };
        let schema = self.properties.eq_properties.schema().clone();
        let stream = futures::stream::once(async move { this.batches().await }).flat_map(|result| {
            futures::stream::iter(match result {
                Ok(batches) => batches.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
