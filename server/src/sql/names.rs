//! Name resolution before DataFusion plans a statement: relations and columns are matched as ksqlDB
//! and Postgres users expect, and result columns are named as they name them.
//!
//! Unquoted names fold to upper case in a statement that reads Eddy's streams and tables (ksqlDB's
//! rule: `SELECT id FROM orders` reads `ORDERS.ID`) and to lower case otherwise (Postgres' rule, which
//! catalog queries rely on: `SELECT relname FROM pg_class`). Either way an unquoted name that matches a
//! known relation, column or alias when case is ignored resolves to it, so a statement may mix both
//! (`SELECT o.id, c.relname FROM orders o, pg_catalog.pg_class c`). Quoted names match exactly.
//! Every name is written back quoted, so DataFusion's own folding leaves it alone.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow::datatypes::{DataType, Fields, SchemaRef};
use datafusion::catalog::CatalogProviderList;
use sqlparser::ast::{
    CastKind, DataType as SqlDataType, Expr, Ident, ObjectName, ObjectNamePart, Query, Select, SelectItem, Statement,
    TableFactor, TimezoneInfo, VisitMut, VisitorMut,
};

/// Schemas searched for an unqualified relation name, in order (Postgres searches `pg_catalog` first).
const SEARCH_PATH: &[&str] = &["pg_catalog", "public"];

/// SQL's niladic functions, written without parentheses: never column names.
const NILADIC: &[&str] = &[
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "localtime",
    "localtimestamp",
    "session_user",
    "user",
];

/// How unquoted names that match nothing fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// ksqlDB: the statement reads Eddy's relations.
    Upper,
    /// Postgres: catalog queries and client probes.
    Lower,
}

impl Fold {
    fn apply(self, s: &str) -> String {
        match self {
            Self::Upper => s.to_uppercase(),
            Self::Lower => s.to_lowercase(),
        }
    }
}

/// A relation the statement names that no catalog has.
#[derive(Debug, Clone)]
pub struct UnknownRelation {
    /// The name as written.
    pub name: String,
    /// Where it was written.
    pub at: sqlparser::tokenizer::Location,
}

/// Resolves the names of `statement` against the session's catalogs (the default catalog is
/// `database`), rewriting them in place. Returns how unquoted names folded.
pub async fn resolve_names(
    statement: &mut Statement,
    catalogs: &Arc<dyn CatalogProviderList>,
    database: &str,
) -> Result<Fold, UnknownRelation> {
    // Pass 1: the relations and common table expressions the statement names.
    let mut collector = Collector::default();
    let _ = statement.visit(&mut collector);

    let mut resolved: HashMap<ObjectName, ObjectName> = HashMap::new();
    let mut known = Known::default();
    let mut fold = Fold::Lower;
    for name in &collector.relations {
        if let [only] = parts(name).as_slice() {
            if only.quote_style.is_none() && collector.ctes.contains(&only.value.to_lowercase()) {
                continue;
            }
        }
        let Some(found) = resolve_relation(catalogs, database, &parts(name)).await else {
            let written = parts(name);
            let at =
                written.first().map(|i| i.span.start).unwrap_or(sqlparser::tokenizer::Location { line: 0, column: 0 });
            let name = match written.last() {
                Some(i) if i.quote_style.is_none() => i.value.to_lowercase(),
                Some(i) => i.value.clone(),
                None => String::new(),
            };
            return Err(UnknownRelation { name, at });
        };
        if found.schema_name == "public" {
            fold = Fold::Upper;
        }
        for part in &found.parts {
            known.add(part);
        }
        add_fields(&mut known, found.schema.fields());
        resolved.insert(name.clone(), object_name(&found.parts));
    }

    // Pass 2: rewrite relation names, aliases and column references.
    let mut rewriter = Rewriter { fold, resolved, known, ctes: HashMap::new() };
    rewriter.declare_aliases(statement);
    let _ = statement.visit(&mut rewriter);
    Ok(fold)
}

fn parts(name: &ObjectName) -> Vec<Ident> {
    name.0
        .iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(i.clone()),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

/// `ident` renamed and quoted, keeping where it was written.
fn requote(ident: &Ident, value: String) -> Ident {
    Ident { value, quote_style: Some('"'), span: ident.span }
}

fn object_name(parts: &[String]) -> ObjectName {
    ObjectName(parts.iter().map(|p| ObjectNamePart::Identifier(Ident::with_quote('"', p))).collect())
}

fn add_fields(known: &mut Known, fields: &Fields) {
    for f in fields {
        known.add(f.name());
        if let DataType::Struct(inner) = f.data_type() {
            add_fields(known, inner);
        }
    }
}

/// A relation found in the catalogs: its exact name parts (as many as were written) and schema.
struct FoundRelation {
    parts: Vec<String>,
    schema_name: String,
    schema: SchemaRef,
}

/// The name among `names` that `wanted` means: exactly, or (unquoted) ignoring case when only one does.
fn pick(names: &[String], wanted: &Ident) -> Option<String> {
    if names.iter().any(|n| n == &wanted.value) {
        return Some(wanted.value.clone());
    }
    if wanted.quote_style.is_some() {
        return None;
    }
    let lower = wanted.value.to_lowercase();
    if names.contains(&lower) {
        return Some(lower);
    }
    let mut matching = names.iter().filter(|n| n.eq_ignore_ascii_case(&wanted.value));
    match (matching.next(), matching.next()) {
        (Some(one), None) => Some(one.clone()),
        _ => None,
    }
}

async fn resolve_relation(
    catalogs: &Arc<dyn CatalogProviderList>,
    database: &str,
    written: &[Ident],
) -> Option<FoundRelation> {
    let (catalog_name, schema_names, table): (String, Vec<String>, &Ident) = match written {
        [table] => (database.to_string(), SEARCH_PATH.iter().map(|s| s.to_string()).collect(), table),
        [schema, table] => {
            let catalog = catalogs.catalog(database)?;
            (database.to_string(), vec![pick(&catalog.schema_names(), schema)?], table)
        }
        [catalog, schema, table] => {
            let catalog_name = pick(&catalogs.catalog_names(), catalog)?;
            let schema_name = pick(&catalogs.catalog(&catalog_name)?.schema_names(), schema)?;
            (catalog_name, vec![schema_name], table)
        }
        _ => return None,
    };
    let catalog = catalogs.catalog(&catalog_name)?;
    for schema_name in schema_names {
        let Some(schema) = catalog.schema(&schema_name) else { continue };
        let Some(table_name) = pick(&schema.table_names(), table) else { continue };
        let Ok(Some(provider)) = schema.table(&table_name).await else { continue };
        let mut parts = match written.len() {
            1 => vec![],
            2 => vec![schema_name.clone()],
            _ => vec![catalog_name.clone(), schema_name.clone()],
        };
        parts.push(table_name);
        return Some(FoundRelation { parts, schema_name, schema: provider.schema() });
    }
    None
}

/// Names an unquoted identifier may mean, by lower case.
#[derive(Default)]
struct Known {
    by_lower: HashMap<String, Vec<String>>,
}

impl Known {
    fn add(&mut self, name: &str) {
        let entry = self.by_lower.entry(name.to_lowercase()).or_default();
        if !entry.iter().any(|n| n == name) {
            entry.push(name.to_string());
        }
    }

    /// The known name `ident` means, if exactly one.
    fn lookup(&self, ident: &Ident) -> Option<String> {
        let candidates = self.by_lower.get(&ident.value.to_lowercase())?;
        if candidates.iter().any(|c| c == &ident.value) {
            return Some(ident.value.clone());
        }
        match candidates.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Collector {
    relations: Vec<ObjectName>,
    ctes: HashSet<String>,
}

impl VisitorMut for Collector {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.to_lowercase());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        // Relations, not table functions (`generate_series(1, 3)`).
        if let TableFactor::Table { name, args: None, .. } = factor {
            self.relations.push(name.clone());
        }
        ControlFlow::Continue(())
    }
}

struct Rewriter {
    fold: Fold,
    resolved: HashMap<ObjectName, ObjectName>,
    known: Known,
    /// Common table expressions by lower-case name, with the names they were given.
    ctes: HashMap<String, String>,
}

impl Rewriter {
    /// An alias as it will be named: quoted ones as written, others folded.
    fn alias(&self, ident: &Ident) -> Ident {
        match ident.quote_style {
            Some(_) => ident.clone(),
            None => requote(ident, self.fold.apply(&ident.value)),
        }
    }

    /// Aliases (of select items, tables, common table expressions) are names too: record them first,
    /// so references anywhere in the statement resolve to them.
    fn declare_aliases(&mut self, statement: &mut Statement) {
        struct Aliases<'a>(&'a mut Rewriter);
        impl VisitorMut for Aliases<'_> {
            type Break = ();
            fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
                if let Some(with) = &mut query.with {
                    for cte in &mut with.cte_tables {
                        let named = self.0.alias(&cte.alias.name);
                        self.0.ctes.insert(cte.alias.name.value.to_lowercase(), named.value.clone());
                        self.0.known.add(&named.value);
                        cte.alias.name = named;
                        for column in &mut cte.alias.columns {
                            column.name = self.0.alias(&column.name);
                            self.0.known.add(&column.name.value);
                        }
                    }
                }
                ControlFlow::Continue(())
            }

            fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
                let alias = match factor {
                    TableFactor::Table { alias, .. }
                    | TableFactor::Derived { alias, .. }
                    | TableFactor::Function { alias, .. }
                    | TableFactor::UNNEST { alias, .. }
                    | TableFactor::NestedJoin { alias, .. } => alias,
                    _ => return ControlFlow::Continue(()),
                };
                if let Some(alias) = alias {
                    alias.name = self.0.alias(&alias.name);
                    self.0.known.add(&alias.name.value);
                    for column in &mut alias.columns {
                        column.name = self.0.alias(&column.name);
                        self.0.known.add(&column.name.value);
                    }
                }
                ControlFlow::Continue(())
            }

            fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
                for item in &mut select.projection {
                    if let SelectItem::ExprWithAlias { alias, .. } = item {
                        *alias = self.0.alias(alias);
                        self.0.known.add(&alias.value);
                    }
                }
                ControlFlow::Continue(())
            }
        }
        let _ = statement.visit(&mut Aliases(self));
    }

    /// A column reference (or qualifier) as DataFusion must see it.
    fn column(&self, ident: &Ident) -> Ident {
        if ident.quote_style.is_some() {
            return ident.clone();
        }
        match self.known.lookup(ident) {
            Some(name) => requote(ident, name),
            None => requote(ident, self.fold.apply(&ident.value)),
        }
    }

    /// Names the unnamed expressions of a SELECT list as the user's dialect does: Postgres after the
    /// function or `?column?`, ksqlDB `KSQL_COL_n`.
    fn name_items(&self, select: &mut Select) {
        let mut used: HashSet<String> = select
            .projection
            .iter()
            .filter_map(|item| match item {
                SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
                SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(i.value.clone()),
                SelectItem::UnnamedExpr(Expr::CompoundIdentifier(p)) => p.last().map(|i| i.value.clone()),
                _ => None,
            })
            .collect();
        let mut counter = 0usize;
        for item in &mut select.projection {
            let SelectItem::UnnamedExpr(expr) = item else { continue };
            if matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
                continue;
            }
            let name = match self.fold {
                Fold::Lower => figure_name(expr).unwrap_or_else(|| "?column?".to_string()),
                Fold::Upper => loop {
                    let n = format!("KSQL_COL_{counter}");
                    counter += 1;
                    if !used.contains(&n) {
                        break n;
                    }
                },
            };
            // DataFusion needs distinct names; a repeated one keeps DataFusion's own name.
            if !used.insert(name.clone()) {
                continue;
            }
            *item = SelectItem::ExprWithAlias { expr: expr.clone(), alias: Ident::with_quote('"', name) };
        }
    }
}

/// Postgres' name for an unnamed result column (`FigureColname`), where it is not `?column?`.
fn figure_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.clone()),
        Expr::Function(f) => parts(&f.name).last().map(|i| i.value.to_lowercase()),
        // An integer literal the rewrite typed `CAST(n AS INTEGER)` is still a bare literal.
        Expr::Cast { kind: CastKind::Cast, expr, data_type: SqlDataType::Integer(None), .. } if matches!(&**expr, Expr::Value(v) if matches!(v.value, sqlparser::ast::Value::Number(..))) => {
            None
        }
        Expr::Cast { expr, data_type, .. } => figure_name(expr).or_else(|| Some(type_name(data_type))),
        Expr::Nested(inner) => figure_name(inner),
        Expr::Case { .. } => Some("case".into()),
        Expr::Exists { .. } => Some("exists".into()),
        Expr::Array(_) => Some("array".into()),
        Expr::Substring { .. } => Some("substring".into()),
        Expr::Trim { .. } => Some("btrim".into()),
        Expr::Position { .. } => Some("position".into()),
        Expr::Extract { .. } => Some("extract".into()),
        _ => None,
    }
}

/// A type as `pg_type.typname` spells it.
fn type_name(data_type: &SqlDataType) -> String {
    match data_type {
        SqlDataType::SmallInt(_) | SqlDataType::Int2(_) => "int2".into(),
        SqlDataType::Int(_) | SqlDataType::Integer(_) | SqlDataType::Int4(_) => "int4".into(),
        SqlDataType::BigInt(_) | SqlDataType::Int8(_) => "int8".into(),
        SqlDataType::Real | SqlDataType::Float4 => "float4".into(),
        SqlDataType::Double(_) | SqlDataType::DoublePrecision | SqlDataType::Float8 | SqlDataType::Float(_) => {
            "float8".into()
        }
        SqlDataType::Numeric(_) | SqlDataType::Decimal(_) | SqlDataType::Dec(_) => "numeric".into(),
        SqlDataType::Boolean | SqlDataType::Bool => "bool".into(),
        SqlDataType::Text | SqlDataType::String(_) => "text".into(),
        SqlDataType::Varchar(_) | SqlDataType::CharacterVarying(_) => "varchar".into(),
        SqlDataType::Char(_) | SqlDataType::Character(_) => "bpchar".into(),
        SqlDataType::Bytea => "bytea".into(),
        SqlDataType::Date => "date".into(),
        SqlDataType::Time(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => "timetz".into(),
        SqlDataType::Time(..) => "time".into(),
        SqlDataType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => "timestamptz".into(),
        SqlDataType::Timestamp(..) => "timestamp".into(),
        SqlDataType::Interval { .. } => "interval".into(),
        SqlDataType::JSON => "json".into(),
        SqlDataType::JSONB => "jsonb".into(),
        SqlDataType::Uuid => "uuid".into(),
        SqlDataType::Array(_) => "?column?".into(),
        SqlDataType::Custom(name, _) => name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| if i.quote_style.is_some() { i.value.clone() } else { i.value.to_lowercase() })
            .unwrap_or_else(|| "?column?".into()),
        other => other.to_string().to_lowercase(),
    }
}

impl VisitorMut for Rewriter {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &mut ObjectName) -> ControlFlow<()> {
        if let Some(resolved) = self.resolved.get(relation) {
            *relation = resolved.clone();
        } else if let [only] = parts(relation).as_slice() {
            if let Some(cte) = self.ctes.get(&only.value.to_lowercase()).filter(|_| only.quote_style.is_none()) {
                *relation = object_name(std::slice::from_ref(cte));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        self.name_items(select);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Identifier(ident) => {
                let niladic = ident.quote_style.is_none()
                    && NILADIC.contains(&ident.value.to_lowercase().as_str())
                    && self.known.lookup(ident).is_none();
                if !niladic {
                    *ident = self.column(ident);
                }
            }
            Expr::CompoundIdentifier(idents) => {
                for ident in idents.iter_mut() {
                    *ident = self.column(ident);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_exact_then_lower_then_unique_ignoring_case() {
        let names = vec!["ORDERS".to_string(), "pg_class".to_string(), "Mixed".to_string()];
        assert_eq!(pick(&names, &Ident::new("orders")), Some("ORDERS".into()));
        assert_eq!(pick(&names, &Ident::new("PG_CLASS")), Some("pg_class".into()));
        assert_eq!(pick(&names, &Ident::new("mixed")), Some("Mixed".into()));
        assert_eq!(pick(&names, &Ident::with_quote('"', "orders")), None);
        let twins = vec!["ab".to_string(), "AB".to_string()];
        assert_eq!(pick(&twins, &Ident::new("Ab")), Some("ab".into()));
        let others = vec!["Ab".to_string(), "aB".to_string()];
        assert_eq!(pick(&others, &Ident::new("AB")), None);
    }

    #[test]
    fn figures_names_as_postgres() {
        let parse = |s: &str| {
            sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
                .try_with_sql(s)
                .and_then(|mut p| p.parse_expr())
                .expect("expression")
        };
        assert_eq!(figure_name(&parse("count(*)")), Some("count".into()));
        assert_eq!(figure_name(&parse("pg_catalog.format_type(a, b)")), Some("format_type".into()));
        assert_eq!(figure_name(&parse("x::text")), Some("x".into()));
        assert_eq!(figure_name(&parse("CASE WHEN a THEN 1 END")), Some("case".into()));
        assert_eq!(figure_name(&parse("1 + 2")), None);
    }
}
