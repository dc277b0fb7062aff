//! RQTT files: QTT's shape (statements, inputs, properties, formats) plus the expected REST
//! responses, expected error and input/output conditions.

use std::path::Path;

use serde_json::Value as Json;

use crate::qtt::case::expand;
use crate::qtt::TestCase;

/// One runnable RQTT case.
#[derive(Debug, Clone)]
pub struct RqttCase {
    /// Statements, inputs, outputs, properties and skip reason, as a QTT case has them.
    pub base: TestCase,
    /// One entry per statement: `{"admin": ...}` or `{"query": [header, rows..., final]}`.
    pub responses: Vec<Json>,
    /// `{type, message, status}`: the error the last statement gives.
    pub expected_error: Option<Json>,
    /// Inputs are produced once the push query is running (`inputConditions.waitForActivePushQuery`).
    pub wait_for_push_query: bool,
    /// Rows compare in order (`outputConditions.verifyOrder`), else as a multiset.
    pub verify_order: bool,
}

/// Loads every `*.json` file of a directory, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<RqttCase>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let json: Json = serde_json::from_str(&text).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        for test in json.get("tests").and_then(Json::as_array).into_iter().flatten() {
            let flag = |section: &str, name: &str| {
                test.get(section).and_then(|c| c.get(name)).and_then(Json::as_bool).unwrap_or(false)
            };
            // `testPullWithProtoFormat` also asks ksqlDB's REST API for protobuf-encoded rows: a REST
            // serialization, which the Postgres protocol has no counterpart of.
            for base in expand(&stem, test) {
                cases.push(RqttCase {
                    base,
                    responses: test.get("responses").and_then(Json::as_array).cloned().unwrap_or_default(),
                    expected_error: test.get("expectedError").cloned(),
                    wait_for_push_query: flag("inputConditions", "waitForActivePushQuery"),
                    verify_order: flag("outputConditions", "verifyOrder"),
                });
            }
        }
    }
    Ok(cases)
}
