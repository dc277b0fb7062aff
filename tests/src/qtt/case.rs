//! QTT files and their expansion into cases: one per `format` entry and per `config` value.

use std::path::Path;

use serde_json::Value as Json;

/// One runnable case.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// `<file stem> - <name>[ - <FORMAT>][ - <prop>=<config>]`.
    pub name: String,
    pub file: String,
    pub statements: Vec<String>,
    pub properties: Vec<(String, String)>,
    pub inputs: Vec<Json>,
    pub outputs: Option<Vec<Json>>,
    pub topics: Vec<Json>,
    pub expected_exception: Option<Json>,
    pub post: Option<Json>,
    /// Why the case is not run, if it is not.
    pub skip: Option<String>,
}

const SCHEMA_REGISTRY_FORMATS: &[&str] = &["AVRO", "PROTOBUF", "JSON_SR"];

/// Loads every `*.json` file of a directory, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<TestCase>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        cases.extend(load_file(&f)?);
    }
    Ok(cases)
}

/// Loads and expands one QTT file.
pub fn load_file(path: &Path) -> Result<Vec<TestCase>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let json: Json = serde_json::from_str(&text).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    let mut out = Vec::new();
    for test in json.get("tests").and_then(Json::as_array).into_iter().flatten() {
        out.extend(expand(&stem, test));
    }
    Ok(out)
}

fn strings(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

pub(crate) fn expand(stem: &str, test: &Json) -> Vec<TestCase> {
    let name = test.get("name").and_then(Json::as_str).unwrap_or("unnamed");
    let formats = strings(test.get("format"));
    let configs = strings(test.get("config"));
    let formats: Vec<Option<String>> =
        if formats.is_empty() { vec![None] } else { formats.into_iter().map(Some).collect() };
    let configs: Vec<Option<String>> =
        if configs.is_empty() { vec![None] } else { configs.into_iter().map(Some).collect() };
    let mut cases = Vec::new();
    for format in &formats {
        for config in &configs {
            let mut full = format!("{stem} - {name}");
            if let Some(f) = format {
                full.push_str(&format!(" - {f}"));
            }
            let mut properties = Vec::new();
            let mut config_name = None;
            if let Some(props) = test.get("properties").and_then(Json::as_object) {
                for (k, v) in props {
                    let text = match v {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    if text == "{CONFIG}" {
                        if let Some(c) = config {
                            config_name = Some(format!("{k}={c}"));
                            properties.push((k.clone(), c.clone()));
                        }
                    } else {
                        properties.push((k.clone(), text));
                    }
                }
            }
            if let Some(c) = &config_name {
                full.push_str(&format!(" - {c}"));
            }
            let substitute = |s: &str| match format {
                Some(f) => s.replace("{FORMAT}", f),
                None => s.to_string(),
            };
            let statements: Vec<String> = strings(test.get("statements")).iter().map(|s| substitute(s)).collect();
            let topics: Vec<Json> = test.get("topics").and_then(Json::as_array).cloned().unwrap_or_default();
            let skip = if test.get("enabled").and_then(Json::as_bool) == Some(false) {
                Some("disabled".to_string())
            } else {
                needs_schema_registry(&statements, &topics, format.as_deref())
            };
            cases.push(TestCase {
                name: full,
                file: stem.to_string(),
                statements,
                properties,
                inputs: test.get("inputs").and_then(Json::as_array).cloned().unwrap_or_default(),
                outputs: test.get("outputs").and_then(Json::as_array).cloned(),
                topics,
                expected_exception: test.get("expectedException").cloned(),
                post: test.get("post").cloned(),
                skip,
            });
        }
    }
    cases
}

/// A Schema Registry format anywhere in the case makes it a later target.
fn needs_schema_registry(statements: &[String], topics: &[Json], format: Option<&str>) -> Option<String> {
    if let Some(f) = format {
        if SCHEMA_REGISTRY_FORMATS.contains(&f.to_uppercase().as_str()) {
            return Some(format!("needs a Schema Registry ({f})"));
        }
    }
    for s in statements {
        let upper = s.to_uppercase().replace(' ', "");
        for f in SCHEMA_REGISTRY_FORMATS {
            if upper.contains(&format!("FORMAT='{f}'")) {
                return Some(format!("needs a Schema Registry ({f})"));
            }
        }
    }
    for t in topics {
        if t.get("valueSchema").is_some() || t.get("keySchema").is_some() {
            let fmt = t.get("valueFormat").or(t.get("keyFormat")).and_then(Json::as_str).unwrap_or("").to_uppercase();
            if SCHEMA_REGISTRY_FORMATS.contains(&fmt.as_str()) {
                return Some(format!("needs a Schema Registry ({fmt})"));
            }
        }
    }
    None
}
