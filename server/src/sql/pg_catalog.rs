//! `pg_catalog` as clients read it: datafusion-pg-catalog's tables, extended with what Eddy knows
//! that the library does not: tables' primary keys (`pg_index`, `pg_constraint`, an index relation
//! `<TABLE>_pkey` in `pg_class`), the session's role as owner of everything (`pg_roles`, `pg_user`),
//! the session's settings (`pg_settings`) and its own activity (`pg_stat_activity`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{CatalogProviderList, SchemaProvider, Session, TableProvider};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion_pg_catalog::pg_catalog::context::{PgCatalogContextProvider, Role};
use datafusion_pg_catalog::pg_catalog::PgCatalogSchemaProvider;

use super::context::SessionIdentity;
use super::relations::SourceRelations;

/// The OID of the session's role (Postgres' bootstrap superuser has 10): it owns every relation.
pub const ROLE_OID: i32 = 10;
/// Index and constraint OIDs of a table's primary key: the table's OID plus these.
const INDEX_OID_OFFSET: i32 = 0x2000_0000;
const CONSTRAINT_OID_OFFSET: i32 = 0x3000_0000;
/// `pg_am.oid` of btree, the access method Postgres names for primary keys.
const BTREE_AM_OID: i32 = 403;

/// The roles `pg_roles` lists: the session's user, a superuser.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    user: Option<String>,
}

impl Roles {
    /// The roles of a session of `user`.
    pub fn of(user: &str) -> Self {
        Self { user: Some(user.to_string()) }
    }
}

#[async_trait]
impl PgCatalogContextProvider for Roles {
    async fn roles(&self) -> Vec<String> {
        self.user.iter().cloned().collect()
    }

    async fn role(&self, name: &str) -> Option<Role> {
        (self.user.as_deref() == Some(name)).then(|| Role {
            name: name.to_string(),
            is_superuser: true,
            can_login: true,
            can_create_db: true,
            can_create_role: true,
            can_create_user: true,
            can_replication: false,
            grants: Vec::new(),
            inherited_roles: Vec::new(),
        })
    }
}

/// A primary key as the catalog shows it.
#[derive(Debug, Clone)]
pub struct PrimaryKey {
    pub table: String,
    pub columns: Vec<String>,
    /// 1-based attribute numbers of the key columns.
    pub attnums: Vec<i16>,
}

impl PrimaryKey {
    /// `CREATE UNIQUE INDEX ...` as `pg_get_indexdef` prints it.
    pub fn index_definition(&self) -> String {
        format!(
            "CREATE UNIQUE INDEX {} ON public.{} USING btree ({})",
            quote(&format!("{}_pkey", self.table)),
            quote(&self.table),
            self.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
        )
    }

    /// `PRIMARY KEY (...)` as `pg_get_constraintdef` prints it.
    pub fn constraint_definition(&self) -> String {
        format!("PRIMARY KEY ({})", self.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", "))
    }
}

/// An identifier as Postgres prints it: bare when lower-case and plain, else double-quoted.
pub fn quote(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// The OIDs this session's catalog gave Eddy's primary keys, for `pg_get_indexdef` and
/// `pg_get_constraintdef` (filled whenever `pg_class`, `pg_index` or `pg_constraint` is read).
#[derive(Debug, Default)]
pub struct KeyOids {
    by_oid: RwLock<HashMap<i32, PrimaryKey>>,
}

impl KeyOids {
    /// The primary key whose index or constraint has this OID.
    pub fn key(&self, oid: i32) -> Option<PrimaryKey> {
        self.by_oid.read().ok()?.get(&oid).cloned()
    }

    /// The index definition of an index OID.
    pub fn index_definition(&self, oid: i32) -> Option<String> {
        (INDEX_OID_OFFSET..CONSTRAINT_OID_OFFSET)
            .contains(&oid)
            .then(|| self.key(oid))
            .flatten()
            .map(|k| k.index_definition())
    }

    /// The constraint definition of a constraint OID.
    pub fn constraint_definition(&self, oid: i32) -> Option<String> {
        (oid >= CONSTRAINT_OID_OFFSET).then(|| self.key(oid)).flatten().map(|k| k.constraint_definition())
    }

    fn record(&self, table_oid: i32, key: &PrimaryKey) {
        if let Ok(mut map) = self.by_oid.write() {
            map.insert(table_oid + INDEX_OID_OFFSET, key.clone());
            map.insert(table_oid + CONSTRAINT_OID_OFFSET, key.clone());
        }
    }
}

type Library = PgCatalogSchemaProvider<Arc<dyn CatalogProviderList>, Roles>;

/// The `pg_catalog` schema of a session.
pub struct EddyPgCatalog {
    library: Arc<Library>,
    relations: SourceRelations,
    identity: SessionIdentity,
    keys: Arc<KeyOids>,
}

impl std::fmt::Debug for EddyPgCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EddyPgCatalog").finish()
    }
}

/// Relations Eddy adds to the library's list.
const EXTRA_TABLES: &[&str] = &["pg_user", "pg_stat_activity"];

impl EddyPgCatalog {
    /// The catalog of a session.
    pub fn new(library: Library, relations: SourceRelations, identity: SessionIdentity, keys: Arc<KeyOids>) -> Self {
        Self { library: Arc::new(library), relations, identity, keys }
    }

    /// The primary keys of Eddy's tables, by table name.
    fn primary_keys(&self) -> Vec<PrimaryKey> {
        let catalog = self.relations.catalog();
        catalog
            .sources()
            .filter_map(|s| self.relations.relation(&s.name).ok().flatten())
            .filter_map(|t| {
                let key = t.primary_key();
                (!key.is_empty()).then(|| PrimaryKey {
                    table: t.name().to_string(),
                    columns: key.iter().map(|&i| t.schema_ref().field(i).name().clone()).collect(),
                    attnums: key.iter().map(|&i| i as i16 + 1).collect(),
                })
            })
            .collect()
    }
}

#[async_trait]
impl SchemaProvider for EddyPgCatalog {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.library.table_names();
        names.extend(EXTRA_TABLES.iter().map(|s| s.to_string()));
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let lower = name.to_ascii_lowercase();
        let patch = match lower.as_str() {
            "pg_class" => Patch::Class,
            "pg_index" => Patch::Index,
            "pg_constraint" => Patch::Constraint,
            "pg_roles" => Patch::Roles,
            "pg_database" => Patch::Database,
            "pg_settings" => Patch::Settings,
            "pg_type" => Patch::Type,
            "pg_proc" => Patch::Proc,
            "pg_user" => Patch::User,
            "pg_stat_activity" => Patch::StatActivity,
            _ => return self.library.table(name).await,
        };
        let inner = self.library.table(&lower).await?;
        let schema = match (&inner, patch) {
            (Some(t), _) => {
                let schema = retyped(&with_fields(&t.schema(), &patch.extra_fields()), &patch.array_columns());
                with_types(&schema, patch.regproc_columns(), &DataType::Int32)
            }
            (None, Patch::User) => user_schema(),
            (None, Patch::StatActivity) => stat_activity_schema(),
            (None, _) => return Ok(None),
        };
        Ok(Some(Arc::new(PatchedTable {
            inner,
            schema,
            patch,
            context: Arc::new(PatchContext {
                library: self.library.clone(),
                keys: self.primary_keys(),
                key_oids: self.keys.clone(),
                identity: self.identity.clone(),
            }),
        })))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.library.table_exist(name) || EXTRA_TABLES.contains(&name.to_ascii_lowercase().as_str())
    }
}

/// What a patched table changes.
#[derive(Debug, Clone, Copy)]
enum Patch {
    Class,
    Index,
    Constraint,
    Roles,
    Database,
    Settings,
    Type,
    Proc,
    User,
    StatActivity,
}

impl Patch {
    /// Postgres columns clients read that the library's table lacks (NULL in its rows).
    fn extra_fields(self) -> Vec<Field> {
        let text_array = || DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        match self {
            Patch::Class => {
                vec![Field::new("reloptions", text_array(), true), Field::new("relacl", text_array(), true)]
            }
            _ => Vec::new(),
        }
    }
}

impl Patch {
    /// Columns Postgres types as arrays (`int2vector`, `oidvector`, `int2[]`) that the library
    /// stores as text: clients `unnest` them, index them and compare them with `ANY`.
    fn array_columns(self) -> Vec<(&'static str, DataType)> {
        match self {
            Patch::Index => vec![
                ("indkey", DataType::Int16),
                ("indcollation", DataType::Int32),
                ("indclass", DataType::Int32),
                ("indoption", DataType::Int16),
            ],
            Patch::Constraint => vec![("conkey", DataType::Int16), ("confkey", DataType::Int16)],
            Patch::Proc => vec![
                ("proargtypes", DataType::Int32),
                ("proallargtypes", DataType::Int32),
                ("proargmodes", DataType::Utf8),
                ("proargnames", DataType::Utf8),
            ],
            _ => Vec::new(),
        }
    }

    /// Columns Postgres types `regproc` (a function's OID, named when shown) that the library stores
    /// as names: comparing them with `'array_in'::regproc` needs the OID.
    fn regproc_columns(self) -> &'static [&'static str] {
        match self {
            Patch::Type => &["typinput", "typoutput", "typreceive", "typsend", "typmodin", "typmodout", "typanalyze"],
            _ => &[],
        }
    }
}

fn list_of(item: &DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item.clone(), true)))
}

/// A schema with some columns' types replaced by arrays of `item`.
fn retyped(schema: &SchemaRef, columns: &[(&str, DataType)]) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match columns.iter().find(|(n, _)| *n == f.name()) {
            Some((_, item)) => Field::new(f.name(), list_of(item), true),
            None => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// An array's text as the library stores it (`1 2`, `{1,2}`, `['v', 'i']`) as an array of `item`.
fn array_from_text(text: Option<&str>, item: &DataType) -> ScalarValue {
    let Some(text) = text else {
        return ScalarValue::List(Arc::new(arrow::array::ListArray::new_null(
            Arc::new(Field::new("item", item.clone(), true)),
            1,
        )));
    };
    let parts = text
        .trim_matches(|c| c == '{' || c == '}' || c == '[' || c == ']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|s| s.trim_matches(|c| c == '\'' || c == '"'))
        .filter(|s| !s.is_empty());
    let values: Vec<ScalarValue> = match item {
        DataType::Utf8 => parts.map(|s| ScalarValue::Utf8(Some(s.to_string()))).collect(),
        _ => parts.filter_map(|s| s.parse::<i64>().ok()).map(|v| ScalarValue::Int64(Some(v))).collect(),
    };
    ScalarValue::List(ScalarValue::new_list(&values, item, true))
}

/// Integers as an array of `item`.
fn int_array(values: &[i64], item: &DataType) -> ScalarValue {
    let values: Vec<ScalarValue> = values.iter().map(|v| ScalarValue::Int64(Some(*v))).collect();
    ScalarValue::List(ScalarValue::new_list(&values, item, true))
}

/// The library's text columns that are arrays, as arrays.
fn with_arrays(
    batch: &RecordBatch,
    schema: &SchemaRef,
    columns: &[(&str, DataType)],
) -> Result<RecordBatch, DataFusionError> {
    let mut out = batch.columns().to_vec();
    for (name, item) in columns {
        let Ok(index) = batch.schema().index_of(name) else { continue };
        let Some(text) = batch.column(index).as_string_opt::<i32>() else { continue };
        let values: Vec<ScalarValue> =
            (0..batch.num_rows()).map(|i| array_from_text((!text.is_null(i)).then(|| text.value(i)), item)).collect();
        out[index] = if values.is_empty() {
            arrow::array::new_empty_array(&list_of(item))
        } else {
            ScalarValue::iter_to_array(values)?
        };
    }
    Ok(RecordBatch::try_new(schema.clone(), out)?)
}

/// A schema with some columns' types replaced.
fn with_types(schema: &SchemaRef, columns: &[&str], ty: &DataType) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if columns.contains(&f.name().as_str()) {
                Field::new(f.name(), ty.clone(), true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// A schema with fields added that it does not have.
fn with_fields(schema: &SchemaRef, extra: &[Field]) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for f in extra {
        if schema.field_with_name(f.name()).is_err() {
            fields.push(f.clone());
        }
    }
    Arc::new(Schema::new(fields))
}

/// A library batch in the patched table's schema: array columns as arrays, added columns NULL.
fn widened_to(
    batch: &RecordBatch,
    schema: &SchemaRef,
    arrays: &[(&str, DataType)],
) -> Result<RecordBatch, DataFusionError> {
    let retyped_schema = retyped(&batch.schema(), arrays);
    let converted = with_arrays(batch, &retyped_schema, arrays)?;
    widened(&converted, schema)
}

/// A batch with NULL columns appended up to `schema`.
fn widened(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, DataFusionError> {
    let mut columns = batch.columns().to_vec();
    for field in schema.fields().iter().skip(columns.len()) {
        columns.push(arrow::array::new_null_array(field.data_type(), batch.num_rows()));
    }
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

struct PatchContext {
    library: Arc<Library>,
    keys: Vec<PrimaryKey>,
    key_oids: Arc<KeyOids>,
    identity: SessionIdentity,
}

/// A library table with Eddy's rows added or its rows corrected.
struct PatchedTable {
    inner: Option<Arc<dyn TableProvider>>,
    schema: SchemaRef,
    patch: Patch,
    context: Arc<PatchContext>,
}

impl std::fmt::Debug for PatchedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatchedTable").field("patch", &self.patch).finish()
    }
}

async fn read_all(table: &Arc<dyn TableProvider>, state: &dyn Session) -> Result<Vec<RecordBatch>, DataFusionError> {
    let plan = table.scan(state, None, &[], None).await?;
    collect(plan, state.task_ctx()).await
}

/// Function-name columns as the functions' OIDs (`-` and unknown names: 0).
fn regprocs_as_oids(
    batch: &RecordBatch,
    columns: &[&str],
    oids: &HashMap<String, i32>,
) -> Result<RecordBatch, DataFusionError> {
    let mut batch = batch.clone();
    for column in columns {
        let Some(names) = batch.column_by_name(column).and_then(|c| c.as_string_opt::<i32>()) else { continue };
        let values: Int32Array = (0..names.len())
            .map(|i| {
                let name = names.value(i);
                Some(oids.get(name.rsplit('.').next().unwrap_or(name)).copied().unwrap_or(0))
            })
            .collect();
        batch = replace_column(&batch, column, Arc::new(values))?;
    }
    Ok(batch)
}

impl PatchContext {
    /// Function names to OIDs, from pg_proc.
    async fn function_oids(&self, state: &dyn Session) -> Result<HashMap<String, i32>, DataFusionError> {
        let mut oids = HashMap::new();
        if let Some(proc) = self.library.table("pg_proc").await? {
            for batch in read_all(&proc, state).await? {
                let (oid, name) = (column_i32(&batch, "oid")?, column_str(&batch, "proname")?);
                for i in 0..batch.num_rows() {
                    oids.entry(name.value(i).to_string()).or_insert(oid.value(i));
                }
            }
        }
        Ok(oids)
    }

    /// Eddy's tables with a primary key, with the OIDs the library gave them and their namespace.
    async fn keyed_tables(&self, state: &dyn Session) -> Result<Vec<(i32, i32, PrimaryKey)>, DataFusionError> {
        let Some(class) = self.library.table("pg_class").await? else { return Ok(Vec::new()) };
        let Some(namespace) = self.library.table("pg_namespace").await? else { return Ok(Vec::new()) };
        let mut public = None;
        for batch in read_all(&namespace, state).await? {
            let (oids, names) = (column_i32(&batch, "oid")?, column_str(&batch, "nspname")?);
            for i in 0..batch.num_rows() {
                if names.value(i) == "public" {
                    public = Some(oids.value(i));
                }
            }
        }
        let Some(public) = public else { return Ok(Vec::new()) };
        let by_name: HashMap<&str, &PrimaryKey> = self.keys.iter().map(|k| (k.table.as_str(), k)).collect();
        let mut out = Vec::new();
        for batch in read_all(&class, state).await? {
            let (oids, names, spaces) =
                (column_i32(&batch, "oid")?, column_str(&batch, "relname")?, column_i32(&batch, "relnamespace")?);
            for i in 0..batch.num_rows() {
                if spaces.value(i) != public {
                    continue;
                }
                if let Some(key) = by_name.get(names.value(i)) {
                    self.key_oids.record(oids.value(i), key);
                    out.push((oids.value(i), public, (*key).clone()));
                }
            }
        }
        Ok(out)
    }
}

fn column_i32<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a arrow::array::PrimitiveArray<Int32Type>, DataFusionError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<Int32Type>())
        .ok_or_else(|| DataFusionError::Internal(format!("catalog column {name} is not int4")))
}

fn column_str<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a arrow::array::StringArray, DataFusionError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| DataFusionError::Internal(format!("catalog column {name} is not text")))
}

/// Rows given by column name; a column not given is NULL, or its type's zero when not nullable.
fn rows_batch(schema: &SchemaRef, rows: &[Vec<(&str, ScalarValue)>]) -> Result<RecordBatch, DataFusionError> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let values = rows
                .iter()
                .map(|row| match row.iter().find(|(n, _)| *n == field.name()) {
                    Some((_, v)) => v.cast_to(field.data_type()),
                    None if field.is_nullable() => ScalarValue::try_from(field.data_type()),
                    None => zero(field.data_type()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if values.is_empty() {
                return Ok(arrow::array::new_empty_array(field.data_type()));
            }
            ScalarValue::iter_to_array(values)
        })
        .collect::<Result<Vec<ArrayRef>, DataFusionError>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn zero(dt: &DataType) -> Result<ScalarValue, DataFusionError> {
    Ok(match dt {
        DataType::Boolean => ScalarValue::Boolean(Some(false)),
        DataType::Utf8 => ScalarValue::Utf8(Some(String::new())),
        other => ScalarValue::new_zero(other)?,
    })
}

fn text(s: impl Into<String>) -> ScalarValue {
    ScalarValue::Utf8(Some(s.into()))
}

fn int(v: i32) -> ScalarValue {
    ScalarValue::Int32(Some(v))
}

fn boolean(v: bool) -> ScalarValue {
    ScalarValue::Boolean(Some(v))
}

/// A column of a batch replaced.
fn replace_column(batch: &RecordBatch, name: &str, array: ArrayRef) -> Result<RecordBatch, DataFusionError> {
    let Some(index) = batch.schema().index_of(name).ok() else { return Ok(batch.clone()) };
    let schema = with_types(&batch.schema(), &[name], array.data_type());
    let mut columns = batch.columns().to_vec();
    columns[index] = array;
    Ok(RecordBatch::try_new(schema, columns)?)
}

impl PatchedTable {
    async fn rows(&self, state: &dyn Session) -> Result<Vec<RecordBatch>, DataFusionError> {
        let ctx = &self.context;
        let mut batches = match &self.inner {
            Some(inner) => {
                let arrays = self.patch.array_columns();
                let regprocs = self.patch.regproc_columns();
                let functions = if regprocs.is_empty() { HashMap::new() } else { ctx.function_oids(state).await? };
                let mut out = Vec::new();
                for batch in read_all(inner, state).await? {
                    let batch = regprocs_as_oids(&batch, regprocs, &functions)?;
                    out.push(widened_to(&batch, &self.schema, &arrays)?);
                }
                out
            }
            None => Vec::new(),
        };
        match self.patch {
            Patch::Class => {
                let keyed = ctx.keyed_tables(state).await?;
                let keyed_oids: Vec<i32> = keyed.iter().map(|(oid, _, _)| *oid).collect();
                for batch in &mut batches {
                    let oids = column_i32(batch, "oid")?.clone();
                    let has_index: BooleanArray =
                        oids.iter().map(|o| Some(o.is_some_and(|o| keyed_oids.contains(&o)))).collect();
                    let owners = Int32Array::from(vec![ROLE_OID; batch.num_rows()]);
                    *batch = replace_column(batch, "relhasindex", Arc::new(has_index))?;
                    *batch = replace_column(batch, "relowner", Arc::new(owners))?;
                }
                let rows: Vec<Vec<(&str, ScalarValue)>> = keyed
                    .iter()
                    .map(|(oid, namespace, key)| {
                        vec![
                            ("oid", int(oid + INDEX_OID_OFFSET)),
                            ("relname", text(format!("{}_pkey", key.table))),
                            ("relnamespace", int(*namespace)),
                            ("relowner", int(ROLE_OID)),
                            ("relam", int(BTREE_AM_OID)),
                            ("relfilenode", int(oid + INDEX_OID_OFFSET)),
                            ("relpages", int(1)),
                            ("relpersistence", text("p")),
                            ("relkind", text("i")),
                            ("relnatts", ScalarValue::Int16(Some(key.columns.len() as i16))),
                            ("relispopulated", boolean(true)),
                            ("relreplident", text("n")),
                        ]
                    })
                    .collect();
                batches.push(rows_batch(&self.schema, &rows)?);
            }
            Patch::Index => {
                let keyed = ctx.keyed_tables(state).await?;
                let rows: Vec<Vec<(&str, ScalarValue)>> = keyed
                    .iter()
                    .map(|(oid, _, key)| {
                        let n = key.attnums.len() as i16;
                        vec![
                            ("indexrelid", int(oid + INDEX_OID_OFFSET)),
                            ("indrelid", int(*oid)),
                            ("indnatts", ScalarValue::Int16(Some(n))),
                            ("indnkeyatts", ScalarValue::Int16(Some(n))),
                            ("indisunique", boolean(true)),
                            ("indisprimary", boolean(true)),
                            ("indimmediate", boolean(true)),
                            ("indisvalid", boolean(true)),
                            ("indisready", boolean(true)),
                            ("indislive", boolean(true)),
                            (
                                "indkey",
                                int_array(&key.attnums.iter().map(|a| *a as i64).collect::<Vec<_>>(), &DataType::Int16),
                            ),
                            ("indcollation", int_array(&vec![0; key.attnums.len()], &DataType::Int32)),
                            ("indclass", int_array(&vec![0; key.attnums.len()], &DataType::Int32)),
                            ("indoption", int_array(&vec![0; key.attnums.len()], &DataType::Int16)),
                        ]
                    })
                    .collect();
                batches.push(rows_batch(&self.schema, &rows)?);
            }
            Patch::Constraint => {
                let keyed = ctx.keyed_tables(state).await?;
                let rows: Vec<Vec<(&str, ScalarValue)>> = keyed
                    .iter()
                    .map(|(oid, namespace, key)| {
                        vec![
                            ("oid", int(oid + CONSTRAINT_OID_OFFSET)),
                            ("conname", text(format!("{}_pkey", key.table))),
                            ("connamespace", int(*namespace)),
                            ("contype", text("p")),
                            ("convalidated", boolean(true)),
                            ("conrelid", int(*oid)),
                            ("conindid", int(oid + INDEX_OID_OFFSET)),
                            ("conislocal", boolean(true)),
                            ("connoinherit", boolean(true)),
                            ("confupdtype", text(" ")),
                            ("confdeltype", text(" ")),
                            ("confmatchtype", text(" ")),
                            (
                                "conkey",
                                int_array(&key.attnums.iter().map(|a| *a as i64).collect::<Vec<_>>(), &DataType::Int16),
                            ),
                        ]
                    })
                    .collect();
                batches.push(rows_batch(&self.schema, &rows)?);
            }
            Patch::Type | Patch::Proc => {}
            Patch::Roles => {
                for batch in &mut batches {
                    let oids = Int32Array::from(vec![ROLE_OID; batch.num_rows()]);
                    *batch = replace_column(batch, "oid", Arc::new(oids))?;
                }
            }
            Patch::Database => {
                for batch in &mut batches {
                    let owners = Int32Array::from(vec![ROLE_OID; batch.num_rows()]);
                    *batch = replace_column(batch, "datdba", Arc::new(owners))?;
                }
            }
            Patch::Settings => {
                let settings = ctx.identity.settings.read().map(|s| s.all()).unwrap_or_default();
                let rows: Vec<Vec<(&str, ScalarValue)>> = settings
                    .into_iter()
                    .map(|(guc, value)| {
                        vec![
                            ("name", text(guc.name)),
                            ("setting", text(value.clone())),
                            ("category", text(guc.category)),
                            ("short_desc", text(guc.description)),
                            ("context", text(if guc.read_only { "internal" } else { "user" })),
                            ("vartype", text("string")),
                            ("source", text("default")),
                            ("reset_val", text(guc.default)),
                            ("boot_val", text(guc.default)),
                            ("pending_restart", boolean(false)),
                        ]
                    })
                    .collect();
                batches = vec![rows_batch(&self.schema, &rows)?];
            }
            Patch::User => {
                let rows = vec![vec![
                    ("usename", text(ctx.identity.user.clone())),
                    ("usesysid", int(ROLE_OID)),
                    ("usecreatedb", boolean(true)),
                    ("usesuper", boolean(true)),
                    ("userepl", boolean(false)),
                    ("usebypassrls", boolean(false)),
                    ("passwd", text("********")),
                ]];
                batches = vec![rows_batch(&self.schema, &rows)?];
            }
            Patch::StatActivity => {
                let rows = vec![vec![
                    ("datname", text(ctx.identity.database.clone())),
                    ("usesysid", int(ROLE_OID)),
                    ("usename", text(ctx.identity.user.clone())),
                    (
                        "application_name",
                        text(
                            ctx.identity
                                .settings
                                .read()
                                .ok()
                                .and_then(|s| s.get("application_name").ok())
                                .unwrap_or_default(),
                        ),
                    ),
                    ("state", text("active")),
                    ("backend_type", text("client backend")),
                ]];
                batches = vec![rows_batch(&self.schema, &rows)?];
            }
        }
        Ok(batches)
    }
}

fn user_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("usename", DataType::Utf8, false),
        Field::new("usesysid", DataType::Int32, false),
        Field::new("usecreatedb", DataType::Boolean, false),
        Field::new("usesuper", DataType::Boolean, false),
        Field::new("userepl", DataType::Boolean, false),
        Field::new("usebypassrls", DataType::Boolean, false),
        Field::new("passwd", DataType::Utf8, true),
        Field::new("valuntil", DataType::Utf8, true),
        Field::new("useconfig", DataType::Utf8, true),
    ]))
}

fn stat_activity_schema() -> SchemaRef {
    let text = |n: &str| Field::new(n, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new("datid", DataType::Int32, true),
        text("datname"),
        Field::new("pid", DataType::Int32, true),
        Field::new("usesysid", DataType::Int32, true),
        text("usename"),
        text("application_name"),
        text("client_addr"),
        text("state"),
        text("query"),
        text("backend_type"),
    ]))
}

#[async_trait]
impl TableProvider for PatchedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        let rows = self.rows(state).await?;
        let rows: Vec<RecordBatch> = rows.into_iter().filter(|b| b.num_rows() > 0).collect();
        Ok(MemorySourceConfig::try_new_exec(&[rows], self.schema.clone(), projection.cloned())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_postgres() {
        assert_eq!(quote("orders"), "orders");
        assert_eq!(quote("ORDERS"), "\"ORDERS\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        let key = PrimaryKey { table: "ORDERS".into(), columns: vec!["ID".into()], attnums: vec![1] };
        assert_eq!(
            key.index_definition(),
            "CREATE UNIQUE INDEX \"ORDERS_pkey\" ON public.\"ORDERS\" USING btree (\"ID\")"
        );
        assert_eq!(key.constraint_definition(), "PRIMARY KEY (\"ID\")");
    }
}
