//! CREATE STREAM/TABLE: building a catalog source from a statement, and a runtime source spec from a source.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::datatypes::Schema;
use eddy_catalog::{
    arrow_field, Column, ColumnKind, Format, FormatSpec, Source, SourceKind, SqlType, TimestampSpec, WindowKind,
    PSEUDO_COLUMNS,
};
use eddy_parser::{ColumnConstraint, CreateSource, Properties};
use eddy_runtime::format::{codec_for, Role};
use eddy_runtime::{headers_type, SourceSpec, HEADERS_COLUMN, VALUE_NULL_COLUMN};
use sqlparser::tokenizer::Location;

use crate::error::{PlanError, Result};
use crate::scope::{Scope, ScopeColumn};

/// Column names a source or a projection may not define.
pub(crate) const RESERVED: &[&str] = &["ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"];

/// The window bound columns of windowed sources and aggregations.
pub(crate) const WINDOW_BOUNDS: [&str; 2] = ["WINDOWSTART", "WINDOWEND"];

/// Key and value formats from `WITH` properties and session defaults.
pub(crate) fn formats(
    props: &Properties,
    session: &BTreeMap<String, String>,
    inherited: Option<(&FormatSpec, &FormatSpec)>,
) -> Result<(FormatSpec, FormatSpec)> {
    let format = props.get("FORMAT");
    let key = props.get("KEY_FORMAT");
    let value = props.get("VALUE_FORMAT");
    if format.is_some() && key.is_some() {
        return Err(PlanError::new("Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'."));
    }
    if format.is_some() && value.is_some() {
        return Err(PlanError::new("Cannot supply both 'VALUE_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'."));
    }
    let key_name = key.or(format.clone());
    let value_name = value.or(format);
    let mut key_spec = match (key_name, inherited) {
        (Some(n), _) => FormatSpec::new(Format::parse(&n)?),
        (None, Some((k, _))) => k.clone(),
        (None, None) => {
            let default = session.get("ksql.persistence.default.format.key").cloned().unwrap_or_else(|| "KAFKA".into());
            FormatSpec::new(Format::parse(&default)?)
        }
    };
    let mut value_spec = match (value_name, inherited) {
        (Some(n), _) => FormatSpec::new(Format::parse(&n)?),
        (None, Some((_, v))) => FormatSpec { wrap_single_value: None, ..v.clone() },
        (None, None) => match session.get("ksql.persistence.default.format.value") {
            Some(d) => FormatSpec::new(Format::parse(d)?),
            None => {
                return Err(PlanError::new(
                    "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one or set a default via the 'ksql.persistence.default.format.value' config.",
                ))
            }
        },
    };
    if let Some(d) = props.get("VALUE_DELIMITER") {
        if value_spec.format != Format::Delimited {
            return Err(PlanError::new(format!(
                "{} does not support the following configs: [delimiter]",
                value_spec.format
            )));
        }
        value_spec.delimiter = delimiter("VALUE_DELIMITER", &d)?;
    }
    if let Some(d) = props.get("KEY_DELIMITER") {
        if key_spec.format != Format::Delimited {
            return Err(PlanError::new(format!(
                "{} does not support the following configs: [delimiter]",
                key_spec.format
            )));
        }
        key_spec.delimiter = delimiter("KEY_DELIMITER", &d)?;
    }
    if let Some(w) = props.get("WRAP_SINGLE_VALUE") {
        value_spec.wrap_single_value = Some(w.eq_ignore_ascii_case("true"));
    }
    for spec in [&key_spec, &value_spec] {
        if spec.format.needs_schema_registry() {
            return Err(PlanError::new(format!(
                "The {} format needs a Schema Registry, which Eddy does not support yet.",
                spec.format
            )));
        }
    }
    Ok((key_spec, value_spec))
}

fn delimiter(property: &str, text: &str) -> Result<char> {
    let invalid = |why: String| {
        PlanError::new(format!(
            "Failed to prepare statement: Configuration {property} is invalid: {why}\nExample valid value: ';'"
        ))
    };
    match text.to_ascii_uppercase().as_str() {
        "TAB" => Ok('\t'),
        "SPACE" => Ok(' '),
        _ if text.trim().is_empty() => Err(invalid(
            "Delimiter cannot be empty, if you meant to have a tab or space for delimiter, please use the special values 'TAB' or 'SPACE'".into(),
        )),
        _ => {
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(invalid(format!("Invalid delimiter value: '{text}'. Delimiter must be a single character or TAB,SPACE"))),
            }
        }
    }
}

pub(crate) fn contains_map(ty: &SqlType) -> bool {
    match ty {
        SqlType::Map(..) => true,
        SqlType::Array(t) => contains_map(t),
        SqlType::Struct(fields) => fields.iter().any(|(_, t)| contains_map(t)),
        _ => false,
    }
}

/// `ksql.persistence.wrap.single.values` decides whether a single value column is wrapped when the
/// statement does not say, for the formats that can do both.
pub(crate) fn default_wrapping(value: &mut FormatSpec, columns: &[Column], session: &BTreeMap<String, String>) {
    let singles = columns.iter().filter(|c| c.kind == ColumnKind::Value).count() == 1;
    let Some(default) = session.get("ksql.persistence.wrap.single.values") else { return };
    if value.wrap_single_value.is_none() && singles && value.format.wraps_single_values_by_default() {
        value.wrap_single_value = Some(default.eq_ignore_ascii_case("true"));
    }
}

/// Checks that the formats can carry the columns (e.g. KAFKA allows one primitive column).
pub(crate) fn check_codecs(key: &FormatSpec, value: &FormatSpec, columns: &[Column]) -> Result<()> {
    if let Some(c) = columns.iter().find(|c| c.is_key() && contains_map(&c.ty)) {
        return Err(PlanError::new(format!(
            "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{}`. Column type: {}. See https://github.com/confluentinc/ksql/issues/6621 for more.",
            c.name, c.ty
        )));
    }
    let keys: Vec<(String, SqlType)> =
        columns.iter().filter(|c| c.is_key()).map(|c| (c.name.clone(), c.ty.clone())).collect();
    let values: Vec<(String, SqlType)> =
        columns.iter().filter(|c| c.kind == ColumnKind::Value).map(|c| (c.name.clone(), c.ty.clone())).collect();
    if value.wrap_single_value.is_some() && values.len() != 1 {
        return Err(PlanError::new("'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"));
    }
    if value.wrap_single_value == Some(true) && !matches!(value.format, Format::Json) {
        return Err(PlanError::new(format!(
            "Format '{}' does not support 'WRAP_SINGLE_VALUE' set to 'true'.",
            value.format
        )));
    }
    let unsupported = |role: &str, spec: &FormatSpec, columns: &[(String, SqlType)], suffix: &str, reason: String| {
        let cols: Vec<String> = columns.iter().map(|(n, t)| format!("`{n}` {t}{suffix}")).collect();
        let features = match spec.wrap_single_value {
            Some(true) => "WRAP_SINGLES",
            Some(false) => "UNWRAP_SINGLES",
            None => "",
        };
        PlanError::new(format!(
            "{role} format does not support schema.\nformat: {}\nschema: Persistence{{columns=[{}], features=[{features}]}}\nreason: {reason}",
            spec.format,
            cols.join(", ")
        ))
    };
    codec_for(key, keys.clone(), Role::Key).map_err(|e| unsupported("Key", key, &keys, " KEY", e.to_string()))?;
    codec_for(value, values.clone(), Role::Value)
        .map_err(|e| unsupported("Value", value, &values, "", e.to_string()))?;
    Ok(())
}

/// ksqlDB's `Line: L, Col: C: ` prefix for a place in the submitted text.
fn location(at: Location) -> String {
    if at.line == 0 {
        return String::new();
    }
    format!("Line: {}, Col: {}: ", at.line, at.column)
}

/// Builds the catalog entry of `CREATE STREAM|TABLE name (columns) WITH (...)`.
pub fn build_source(
    create: &CreateSource,
    statement: &str,
    session: &BTreeMap<String, String>,
    partitions: i32,
) -> Result<Source> {
    let topic = create
        .properties
        .get("KAFKA_TOPIC")
        .ok_or_else(|| PlanError::new("Missing required property \"KAFKA_TOPIC\" which has no default value."))?;
    let (key_format, mut value_format) = formats(&create.properties, session, None)?;
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for c in &create.columns {
        if RESERVED.contains(&c.name.as_str()) {
            return Err(PlanError::new(format!(
                "'{}' is a reserved column name. You cannot use it as a name for a column.",
                c.name
            )));
        }
        if !seen.insert(c.name.clone()) {
            return Err(PlanError::new(format!("Duplicate column names: {}", c.name)));
        }
        match (&c.constraint, create.kind) {
            (ColumnConstraint::PrimaryKey, SourceKind::Stream) => {
                return Err(PlanError::new(format!(
                    "{}Column `{}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.",
                    location(c.at),
                    c.name
                )))
            }
            (ColumnConstraint::Key, SourceKind::Table) => {
                return Err(PlanError::new(format!(
                    "{}Column `{}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.",
                    location(c.at),
                    c.name
                )))
            }
            (ColumnConstraint::Key | ColumnConstraint::PrimaryKey, _) => keys.push(Column::new(&c.name, c.ty.clone(), ColumnKind::Key)),
            (ColumnConstraint::Headers, _) => {
                let expected = SqlType::Array(Box::new(SqlType::Struct(vec![("KEY".into(), SqlType::String), ("VALUE".into(), SqlType::Bytes)])));
                if c.ty != expected {
                    return Err(PlanError::new(format!("Invalid type for HEADERS column: expected {expected}, got {}", c.ty)));
                }
                values.push(Column::new(&c.name, c.ty.clone(), ColumnKind::Headers))
            }
            (ColumnConstraint::Header(k), _) => {
                if c.ty != SqlType::Bytes {
                    return Err(PlanError::new(format!("Invalid type for HEADER('{k}') column: expected BYTES, got {}", c.ty)));
                }
                values.push(Column::new(&c.name, c.ty.clone(), ColumnKind::Header(k.clone())))
            }
            (ColumnConstraint::None, _) => values.push(Column::new(&c.name, c.ty.clone(), ColumnKind::Value)),
        }
    }
    if create.kind == SourceKind::Table && keys.is_empty() {
        return Err(PlanError::new("Tables require a PRIMARY KEY. Please define the PRIMARY KEY."));
    }
    if create.columns.is_empty() {
        return Err(PlanError::new("The statement does not define any columns."));
    }
    let window = window_property(&create.properties)?;
    if window.is_some() && keys.is_empty() {
        return Err(PlanError::new("Windowed sources require a key column."));
    }
    let mut columns = keys;
    columns.extend(values);
    default_wrapping(&mut value_format, &columns, session);
    check_codecs(&key_format, &value_format, &columns)?;
    let timestamp = timestamp_spec(&create.properties, &columns)?;
    Ok(Source {
        name: create.name.clone(),
        kind: create.kind,
        columns,
        topic,
        key_format,
        value_format,
        timestamp,
        partitions,
        window,
        is_source: create.is_source,
        statement: statement.to_string(),
    })
}

/// `WINDOW_TYPE` and `WINDOW_SIZE`: the windows a source's keys carry.
fn window_property(props: &Properties) -> Result<Option<WindowKind>> {
    let size = props.get("WINDOW_SIZE");
    let Some(kind) = props.get("WINDOW_TYPE") else {
        if size.is_some() {
            return Err(PlanError::new("'WINDOW_SIZE' should only be set with 'WINDOW_TYPE'."));
        }
        return Ok(None);
    };
    let size_ms = || -> Result<i64> {
        let Some(text) = &size else {
            return Err(PlanError::new(format!(
                "{} windows require 'WINDOW_SIZE' in the WITH clause, e.g. WINDOW_SIZE='10 SECONDS'.",
                kind.to_uppercase()
            )));
        };
        parse_duration(text).map_err(|reason| {
            PlanError::new(format!("Configuration WINDOW_SIZE is invalid: Invalid duration: '{text}'. {reason}"))
        })
    };
    Ok(Some(match kind.to_uppercase().as_str() {
        "TUMBLING" => WindowKind::Tumbling { size_ms: size_ms()? },
        "HOPPING" => WindowKind::Hopping { size_ms: size_ms()? },
        "SESSION" if size.is_some() => {
            return Err(PlanError::new("'WINDOW_SIZE' should not be set for SESSION windows."))
        }
        "SESSION" => WindowKind::Session,
        other => {
            return Err(PlanError::new(format!(
                "Invalid value for WINDOW_TYPE: '{other}'. Valid values are SESSION, HOPPING and TUMBLING."
            )))
        }
    }))
}

/// `n UNIT` (`30 SECONDS`, `1 minute`), in milliseconds.
fn parse_duration(text: &str) -> std::result::Result<i64, String> {
    let mut parts = text.split_whitespace();
    let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("Expected a number followed by a time unit, e.g. '10 SECONDS'.".into());
    };
    let n: i64 = n.parse().map_err(|_| format!("Not a number: '{n}'."))?;
    let upper = unit.to_uppercase();
    let factor = match upper.strip_suffix('S').unwrap_or(&upper) {
        "MILLISECOND" => 1,
        "SECOND" => 1_000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => return Err(format!("Unknown time unit: '{upper}'")),
    };
    n.checked_mul(factor).filter(|ms| *ms > 0).ok_or_else(|| format!("Out of range: '{text}'."))
}

/// `TIMESTAMP='col'` and `TIMESTAMP_FORMAT`, checked against the columns.
pub(crate) fn timestamp_spec(props: &Properties, columns: &[Column]) -> Result<Option<TimestampSpec>> {
    let Some(raw) = props.get("TIMESTAMP") else {
        if props.get("TIMESTAMP_FORMAT").is_some() {
            return Err(PlanError::new("'TIMESTAMP_FORMAT' is only valid with 'TIMESTAMP'"));
        }
        return Ok(None);
    };
    let name = if raw.starts_with('`') { raw.trim_matches('`').to_string() } else { raw.to_uppercase() };
    let Some(col) = columns.iter().find(|c| c.name == name) else {
        return Err(PlanError::new(format!(
            "The TIMESTAMP column set in the WITH clause does not exist in the schema: '{name}'"
        )));
    };
    let format = props.get("TIMESTAMP_FORMAT");
    match (&col.ty, &format) {
        (SqlType::Bigint | SqlType::Timestamp, None) | (SqlType::String, Some(_)) => {}
        (SqlType::String, None) => {
            return Err(PlanError::new(format!("Timestamp column, `{name}`, of type STRING requires 'TIMESTAMP_FORMAT'")))
        }
        (ty, _) => {
            return Err(PlanError::new(format!(
                "Timestamp column, `{name}`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp_format specified. Got {ty}"
            )))
        }
    }
    Ok(Some(TimestampSpec { column: name, format }))
}

/// The runtime's view of a source and the expression scope over its batches.
pub fn source_spec(source: &Source, qualifier: &str) -> (SourceSpec, Scope) {
    let mut scope_cols: Vec<ScopeColumn> = PSEUDO_COLUMNS
        .iter()
        .map(|(n, t)| ScopeColumn { qualifier: Some(qualifier.to_string()), name: n.to_string(), ty: t.clone() })
        .collect();
    let keys: Vec<(String, SqlType)> = source.key_columns().map(|c| (c.name.clone(), c.ty.clone())).collect();
    let values: Vec<(String, SqlType, ColumnKind)> =
        source.columns.iter().filter(|c| !c.is_key()).map(|c| (c.name.clone(), c.ty.clone(), c.kind.clone())).collect();
    for (n, t) in &keys {
        scope_cols.push(ScopeColumn { qualifier: Some(qualifier.to_string()), name: n.clone(), ty: t.clone() });
    }
    if source.window.is_some() {
        for bound in WINDOW_BOUNDS {
            scope_cols.push(ScopeColumn {
                qualifier: Some(qualifier.to_string()),
                name: bound.into(),
                ty: SqlType::Bigint,
            });
        }
    }
    for (n, t, _) in &values {
        scope_cols.push(ScopeColumn { qualifier: Some(qualifier.to_string()), name: n.clone(), ty: t.clone() });
    }
    scope_cols.push(ScopeColumn { qualifier: None, name: HEADERS_COLUMN.into(), ty: headers_type() });
    scope_cols.push(ScopeColumn { qualifier: None, name: VALUE_NULL_COLUMN.into(), ty: SqlType::Boolean });
    let scope = Scope::new(scope_cols);
    let schema = Arc::new(Schema::new(scope.columns.iter().map(|c| arrow_field(&c.name, &c.ty)).collect::<Vec<_>>()));
    let spec = SourceSpec {
        name: source.name.clone(),
        kind: source.kind,
        topic: source.topic.clone(),
        key_format: source.key_format.clone(),
        value_format: source.value_format.clone(),
        key_columns: keys,
        value_columns: values,
        timestamp: source.timestamp.as_ref().map(|t| (t.column.clone(), t.format.clone())),
        window: source.window,
        schema,
    };
    (spec, scope)
}
