//! `information_schema` as Postgres answers it for the relations a user owns: Eddy's tables (as
//! `BASE TABLE`) and streams (as `VIEW`) with their columns in Postgres types, and tables' primary
//! keys (<https://www.postgresql.org/docs/15/information-schema.html>).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use eddy_catalog::SourceKind;

use super::context::SessionIdentity;
use super::relations::{SourceRelations, SourceTable};
use crate::pg_types::{pg_type_of, standard_name};

/// A value of a view's row.
enum Cell {
    Text(Option<String>),
    Int(Option<i32>),
    Null,
}

/// A text cell.
macro_rules! t {
    ($e:expr) => {
        Cell::Text(Some($e.to_string()))
    };
}

/// The views this schema has.
const VIEWS: &[&str] =
    &["tables", "columns", "schemata", "views", "table_constraints", "key_column_usage", "routines", "parameters"];

/// The `information_schema` of a session.
pub struct InformationSchema {
    relations: SourceRelations,
    identity: SessionIdentity,
}

impl std::fmt::Debug for InformationSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InformationSchema").finish()
    }
}

impl InformationSchema {
    /// The schema over Eddy's relations.
    pub fn new(relations: SourceRelations, identity: SessionIdentity) -> Self {
        Self { relations, identity }
    }

    fn tables(&self) -> Vec<SourceTable> {
        let catalog = self.relations.catalog();
        catalog.sources().filter_map(|s| self.relations.relation(&s.name).ok().flatten()).collect()
    }

    fn view(&self, name: &str) -> Option<(SchemaRef, Vec<Vec<Cell>>)> {
        let db = self.identity.database.as_str();
        let owner = self.identity.user.as_str();
        let tables = self.tables();
        let (columns, rows): (Vec<(&str, bool)>, Vec<Vec<Cell>>) = match name {
            "tables" => (
                vec![
                    ("table_catalog", false),
                    ("table_schema", false),
                    ("table_name", false),
                    ("table_type", false),
                    ("self_referencing_column_name", false),
                    ("reference_generation", false),
                    ("user_defined_type_catalog", false),
                    ("user_defined_type_schema", false),
                    ("user_defined_type_name", false),
                    ("is_insertable_into", false),
                    ("is_typed", false),
                    ("commit_action", false),
                ],
                tables
                    .iter()
                    .map(|t| {
                        let kind = if t.kind() == SourceKind::Table { "BASE TABLE" } else { "VIEW" };
                        let mut row = vec![t!(db), t!("public"), t!(t.name()), t!(kind)];
                        row.extend([Cell::Null, Cell::Null, Cell::Null, Cell::Null, Cell::Null]);
                        row.extend([t!("YES"), t!("NO"), Cell::Null]);
                        row
                    })
                    .collect(),
            ),
            "columns" => (
                vec![
                    ("table_catalog", false),
                    ("table_schema", false),
                    ("table_name", false),
                    ("column_name", false),
                    ("ordinal_position", true),
                    ("column_default", false),
                    ("is_nullable", false),
                    ("data_type", false),
                    ("character_maximum_length", true),
                    ("character_octet_length", true),
                    ("numeric_precision", true),
                    ("numeric_precision_radix", true),
                    ("numeric_scale", true),
                    ("datetime_precision", true),
                    ("udt_catalog", false),
                    ("udt_schema", false),
                    ("udt_name", false),
                    ("is_identity", false),
                    ("is_generated", false),
                    ("is_updatable", false),
                    ("dtd_identifier", false),
                ],
                tables
                    .iter()
                    .flat_map(|t| {
                        let key = t.primary_key().to_vec();
                        t.schema_ref()
                            .fields()
                            .iter()
                            .enumerate()
                            .map(|(i, f)| {
                                let ty = pg_type_of(f.data_type());
                                let (precision, radix, scale) = numeric_facts(f.data_type());
                                let datetime = matches!(
                                    f.data_type(),
                                    DataType::Time32(_) | DataType::Time64(_) | DataType::Timestamp(..)
                                )
                                .then_some(3);
                                vec![
                                    t!(db),
                                    t!("public"),
                                    t!(t.name()),
                                    t!(f.name()),
                                    Cell::Int(Some(i as i32 + 1)),
                                    Cell::Null,
                                    t!(if key.contains(&i) { "NO" } else { "YES" }),
                                    t!(standard_name(&ty)),
                                    Cell::Int(None),
                                    Cell::Int(matches!(f.data_type(), DataType::Utf8).then_some(1_073_741_824)),
                                    Cell::Int(precision),
                                    Cell::Int(radix),
                                    Cell::Int(scale),
                                    Cell::Int(datetime),
                                    t!(db),
                                    t!("pg_catalog"),
                                    t!(ty.name()),
                                    t!("NO"),
                                    t!("NEVER"),
                                    t!("NO"),
                                    t!((i + 1).to_string()),
                                ]
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect(),
            ),
            "schemata" => (
                vec![
                    ("catalog_name", false),
                    ("schema_name", false),
                    ("schema_owner", false),
                    ("default_character_set_catalog", false),
                    ("default_character_set_schema", false),
                    ("default_character_set_name", false),
                    ("sql_path", false),
                ],
                ["public", "pg_catalog", "information_schema"]
                    .iter()
                    .map(|s| vec![t!(db), t!(*s), t!(owner), Cell::Null, Cell::Null, Cell::Null, Cell::Null])
                    .collect(),
            ),
            "views" => (
                vec![
                    ("table_catalog", false),
                    ("table_schema", false),
                    ("table_name", false),
                    ("view_definition", false),
                    ("check_option", false),
                    ("is_updatable", false),
                    ("is_insertable_into", false),
                    ("is_trigger_updatable", false),
                    ("is_trigger_deletable", false),
                    ("is_trigger_insertable_into", false),
                ],
                tables
                    .iter()
                    .filter(|t| t.kind() == SourceKind::Stream)
                    .map(|t| {
                        let definition = self.relations.catalog().source(t.name()).map(|s| s.statement.clone()).ok();
                        vec![
                            t!(db),
                            t!("public"),
                            t!(t.name()),
                            Cell::Text(definition),
                            t!("NONE"),
                            t!("NO"),
                            t!("YES"),
                            t!("NO"),
                            t!("NO"),
                            t!("NO"),
                        ]
                    })
                    .collect(),
            ),
            "table_constraints" => (
                vec![
                    ("constraint_catalog", false),
                    ("constraint_schema", false),
                    ("constraint_name", false),
                    ("table_catalog", false),
                    ("table_schema", false),
                    ("table_name", false),
                    ("constraint_type", false),
                    ("is_deferrable", false),
                    ("initially_deferred", false),
                    ("enforced", false),
                    ("nulls_distinct", false),
                ],
                tables
                    .iter()
                    .filter(|t| !t.primary_key().is_empty())
                    .map(|t| {
                        let name = format!("{}_pkey", t.name());
                        vec![
                            t!(db),
                            t!("public"),
                            t!(name),
                            t!(db),
                            t!("public"),
                            t!(t.name()),
                            t!("PRIMARY KEY"),
                            t!("NO"),
                            t!("NO"),
                            t!("YES"),
                            Cell::Null,
                        ]
                    })
                    .collect(),
            ),
            "key_column_usage" => (
                vec![
                    ("constraint_catalog", false),
                    ("constraint_schema", false),
                    ("constraint_name", false),
                    ("table_catalog", false),
                    ("table_schema", false),
                    ("table_name", false),
                    ("column_name", false),
                    ("ordinal_position", true),
                    ("position_in_unique_constraint", true),
                ],
                tables
                    .iter()
                    .flat_map(|t| {
                        let name = format!("{}_pkey", t.name());
                        t.primary_key()
                            .iter()
                            .enumerate()
                            .map(|(n, &i)| {
                                vec![
                                    t!(db),
                                    t!("public"),
                                    t!(name.clone()),
                                    t!(db),
                                    t!("public"),
                                    t!(t.name()),
                                    t!(t.schema_ref().field(i).name()),
                                    Cell::Int(Some(n as i32 + 1)),
                                    Cell::Int(None),
                                ]
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect(),
            ),
            "routines" => (
                vec![
                    ("specific_catalog", false),
                    ("specific_schema", false),
                    ("specific_name", false),
                    ("routine_catalog", false),
                    ("routine_schema", false),
                    ("routine_name", false),
                    ("routine_type", false),
                    ("data_type", false),
                ],
                Vec::new(),
            ),
            "parameters" => (
                vec![
                    ("specific_catalog", false),
                    ("specific_schema", false),
                    ("specific_name", false),
                    ("ordinal_position", true),
                    ("parameter_mode", false),
                    ("parameter_name", false),
                    ("data_type", false),
                ],
                Vec::new(),
            ),
            _ => return None,
        };
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, int)| Field::new(*n, if *int { DataType::Int32 } else { DataType::Utf8 }, true))
            .collect();
        Some((Arc::new(Schema::new(fields)), rows))
    }
}

/// Precision, radix and scale of a numeric type.
fn numeric_facts(dt: &DataType) -> (Option<i32>, Option<i32>, Option<i32>) {
    match dt {
        DataType::Int16 => (Some(16), Some(2), Some(0)),
        DataType::Int32 => (Some(32), Some(2), Some(0)),
        DataType::Int64 => (Some(64), Some(2), Some(0)),
        DataType::Float32 => (Some(24), Some(2), None),
        DataType::Float64 => (Some(53), Some(2), None),
        DataType::Decimal128(p, s) => (Some(*p as i32), Some(10), Some(*s as i32)),
        _ => (None, None, None),
    }
}

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        VIEWS.iter().map(|s| s.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let Some((schema, rows)) = self.view(name) else { return Ok(None) };
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| -> ArrayRef {
                let cells = rows.iter().map(|r| &r[i]);
                match f.data_type() {
                    DataType::Int32 => Arc::new(
                        cells
                            .map(|c| match c {
                                Cell::Int(v) => *v,
                                _ => None,
                            })
                            .collect::<Int32Array>(),
                    ),
                    _ => Arc::new(
                        cells
                            .map(|c| match c {
                                Cell::Text(v) => v.clone(),
                                _ => None,
                            })
                            .collect::<StringArray>(),
                    ),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        Ok(Some(Arc::new(View { schema, batch })))
    }

    fn table_exist(&self, name: &str) -> bool {
        VIEWS.contains(&name)
    }
}

/// One computed view.
#[derive(Debug)]
struct View {
    schema: SchemaRef,
    batch: RecordBatch,
}

#[async_trait]
impl TableProvider for View {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        Ok(MemorySourceConfig::try_new_exec(&[vec![self.batch.clone()]], self.schema.clone(), projection.cloned())?)
    }
}
