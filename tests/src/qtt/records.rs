//! QTT records to bytes and back, through the formats and schema of the source on each topic.

use base64::Engine as _;
use eddy_catalog::{ColumnKind, Format, FormatSpec, Source, SqlType};
use eddy_runtime::format::{codec_for, json_to_value, value_to_json, Role};
use serde_json::Value as Json;

/// The key or value columns of a source.
pub fn columns(source: &Source, role: Role) -> Vec<(String, SqlType)> {
    source
        .columns
        .iter()
        .filter(|c| match role {
            Role::Key => c.kind == ColumnKind::Key,
            Role::Value => c.kind == ColumnKind::Value,
        })
        .map(|c| (c.name.clone(), c.ty.clone()))
        .collect()
}

/// Serializes a QTT key or value as the source's format would have written it.
pub fn encode(
    json: &Json,
    source: Option<(&FormatSpec, Vec<(String, SqlType)>)>,
    role: Role,
) -> Result<Option<Vec<u8>>, String> {
    if json.is_null() {
        return Ok(None);
    }
    let raw = || match json {
        Json::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    };
    let Some((spec, cols)) = source else { return Ok(Some(raw())) };
    Ok(match spec.format {
        Format::Json => Some(serde_json::to_vec(json).map_err(|e| e.to_string())?),
        Format::Delimited => Some(raw()),
        Format::None => None,
        Format::Kafka => match cols.as_slice() {
            [(_, ty)] => {
                let value = json_to_value(json, ty).map_err(|e| format!("cannot write {json} as {ty}: {e}"))?;
                codec_for(spec, cols.clone(), role)
                    .map_err(|e| e.to_string())?
                    .encode(&[value])
                    .map_err(|e| e.to_string())?
            }
            _ => Some(raw()),
        },
        other => return Err(format!("format {other} is not supported")),
    })
}

/// Reads bytes a sink wrote back into the JSON form QTT expects.
pub fn decode(bytes: Option<&[u8]>, spec: Option<&FormatSpec>, cols: &[(String, SqlType)], role: Role) -> Json {
    let Some(bytes) = bytes else { return Json::Null };
    let text = || String::from_utf8_lossy(bytes).into_owned();
    let Some(spec) = spec else { return serde_json::from_slice(bytes).unwrap_or_else(|_| Json::String(text())) };
    match spec.format {
        Format::Json => serde_json::from_slice(bytes).unwrap_or_else(|_| Json::String(text())),
        Format::Delimited => Json::String(text()),
        Format::None => Json::Null,
        Format::Kafka => match (cols, codec_for(spec, cols.to_vec(), role)) {
            ([(_, ty)], Ok(codec)) => match codec.decode(Some(bytes)) {
                Ok(values) => values.first().map(|v| value_to_json(v, ty)).unwrap_or(Json::Null),
                Err(_) => Json::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            },
            _ => Json::String(text()),
        },
        _ => Json::String(text()),
    }
}
