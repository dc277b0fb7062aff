//! Runs one QTT case: statements, inputs, the deterministic driver, then outputs and post-conditions.

use std::collections::BTreeMap;

use base64::Engine as _;
use eddy_catalog::{Catalog, Source, SqlType, WindowKind};
use eddy_parser::{parse_statements, Statement};
use eddy_runtime::format::Role;
use eddy_runtime::{OutputRecord, Record};
use serde_json::Value as Json;

use super::case::TestCase;
use super::compare::matches_typed;
use super::records::{columns, decode, encode};
use crate::TestDriver;

/// The result of a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

fn fail<T>(reason: impl Into<String>) -> Result<T, Outcome> {
    Err(Outcome::Fail(reason.into()))
}

/// Runs a case to its outcome; a panic inside the engine is a failure, not a crash of the runner.
pub fn run_case(case: &TestCase) -> Outcome {
    if let Some(reason) = &case.skip {
        return Outcome::Skip(reason.clone());
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(case))) {
        Ok(Ok(())) => Outcome::Pass,
        Ok(Err(outcome)) => outcome,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Outcome::Fail(format!("PANIC: {msg}"))
        }
    }
}

fn expected_message(case: &TestCase) -> Option<String> {
    case.expected_exception.as_ref().map(|e| e.get("message").and_then(Json::as_str).unwrap_or("").to_string())
}

fn run(case: &TestCase) -> Result<(), Outcome> {
    let mut driver = TestDriver::new();
    driver.session.properties.insert("auto.offset.reset".into(), "earliest".into());
    for (k, v) in &case.properties {
        driver.session.properties.insert(k.clone(), v.clone());
    }
    create_topics(case, &driver);
    let expected_error = expected_message(case);
    // As ksqlDB's test executor: the statements joined by line breaks form one script, so error
    // positions count lines across the whole script.
    let script = case.statements.join("\n");
    for (i, result) in driver.execute(&script).into_iter().enumerate() {
        if let Err(e) = result {
            return match &expected_error {
                Some(m) if e.message.contains(m.as_str()) => Ok(()),
                Some(m) => fail(format!("expected error containing {m:?}, got {:?} (statement {})", e.message, i + 1)),
                None => fail(format!("statement {} failed: {}", i + 1, e.message)),
            };
        }
    }
    let catalog = driver.catalog();
    for input in &case.inputs {
        let record = input_record(input, &catalog)?;
        let topic = input.get("topic").and_then(Json::as_str).unwrap_or_default();
        driver.create_topic(topic, 4);
        if let Err(e) = driver.produce_to(topic, 0, record) {
            return fail(format!("cannot produce to {topic}: {e}"));
        }
    }
    if let Err(e) = driver.run() {
        return match &expected_error {
            Some(m) if e.contains(m.as_str()) => Ok(()),
            _ => fail(format!("processing failed: {e}")),
        };
    }
    if let Some(m) = expected_error {
        return fail(format!("expected an error containing {m:?}, but every statement succeeded"));
    }
    if let Some(outputs) = &case.outputs {
        check_outputs(outputs, &catalog, &driver)?;
    }
    if let Some(post) = &case.post {
        check_post(post, &catalog, &driver)?;
    }
    Ok(())
}

/// Topics a case needs before its statements run: declared topics, input topics, and the topics of
/// CREATE STREAM/TABLE statements that give no PARTITIONS (as ksqlDB's test executor does).
pub(crate) fn create_topics(case: &TestCase, driver: &TestDriver) {
    for t in &case.topics {
        if let Some(name) = t.get("name").and_then(Json::as_str) {
            let partitions = t.get("partitions").and_then(Json::as_i64).unwrap_or(4) as i32;
            driver.create_topic(name, partitions);
        }
    }
    for stmt in &case.statements {
        let Ok(parsed) = parse_statements(stmt) else { continue };
        for p in parsed {
            if let Statement::CreateSource(c) = &p.statement {
                if let Some(topic) = c.properties.get("KAFKA_TOPIC") {
                    let partitions = c.properties.get("PARTITIONS").and_then(|n| n.parse().ok()).unwrap_or(4);
                    driver.create_topic(&topic, partitions);
                }
            }
        }
    }
    for input in &case.inputs {
        if let Some(topic) = input.get("topic").and_then(Json::as_str) {
            driver.create_topic(topic, 4);
        }
    }
}

/// The source that reads a topic: a declared (non-query) source first.
fn reader_of<'a>(catalog: &'a Catalog, topic: &str) -> Option<&'a Source> {
    let mut candidates: Vec<&Source> = catalog.sources().filter(|s| s.topic == topic).collect();
    candidates.sort_by_key(|s| catalog.queries().any(|q| q.sink == s.name));
    candidates.into_iter().next()
}

/// The source a query writes to a topic (else any source on it).
fn writer_of<'a>(catalog: &'a Catalog, topic: &str) -> Option<&'a Source> {
    let mut candidates: Vec<&Source> = catalog.sources().filter(|s| s.topic == topic).collect();
    candidates.sort_by_key(|s| !catalog.queries().any(|q| q.sink == s.name));
    candidates.into_iter().next()
}

pub(crate) fn input_record(input: &Json, catalog: &Catalog) -> Result<OutputRecord, Outcome> {
    let topic = input.get("topic").and_then(Json::as_str).unwrap_or_default();
    let source = reader_of(catalog, topic);
    let null = Json::Null;
    let mut key =
        encode(input.get("key").unwrap_or(&null), source.map(|s| (&s.key_format, columns(s, Role::Key))), Role::Key)
            .or_else(|e| fail(format!("cannot encode input key: {e}")))?;
    if let (Some(kind), Some(window)) = (source.and_then(|s| s.window), input.get("window")) {
        let bound = |name: &str| window.get(name).and_then(Json::as_i64).unwrap_or(0);
        kind.append(key.get_or_insert_with(Vec::new), bound("start"), bound("end"));
    }
    let value = encode(
        input.get("value").unwrap_or(&null),
        source.map(|s| (&s.value_format, columns(s, Role::Value))),
        Role::Value,
    )
    .or_else(|e| fail(format!("cannot encode input value: {e}")))?;
    let headers = input
        .get("headers")
        .and_then(Json::as_array)
        .map(|hs| {
            hs.iter()
                .map(|h| {
                    let k = h.get("KEY").and_then(Json::as_str).unwrap_or_default().to_string();
                    let v = h
                        .get("VALUE")
                        .and_then(Json::as_str)
                        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
                    (k, v)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(OutputRecord { timestamp: input.get("timestamp").and_then(Json::as_i64).unwrap_or(0), key, value, headers })
}

pub(crate) fn check_outputs(outputs: &[Json], catalog: &Catalog, driver: &TestDriver) -> Result<(), Outcome> {
    let mut by_topic: BTreeMap<String, Vec<&Json>> = BTreeMap::new();
    let mut order = Vec::new();
    for o in outputs {
        let topic = o.get("topic").and_then(Json::as_str).unwrap_or_default().to_string();
        if !by_topic.contains_key(&topic) {
            order.push(topic.clone());
        }
        by_topic.entry(topic).or_default().push(o);
    }
    for topic in order {
        let expected = &by_topic[&topic];
        let actual = driver.records(&topic);
        let sink = writer_of(catalog, &topic);
        for (i, exp) in expected.iter().enumerate() {
            let Some(act) = actual.get(i) else {
                return fail(format!(
                    "topic {topic}: expected {} records, got {}; first missing: {}",
                    expected.len(),
                    actual.len(),
                    exp
                ));
            };
            compare_record(&topic, i, exp, act, sink)?;
        }
        if actual.len() > expected.len() {
            let extra = &actual[expected.len()];
            let (k, v, _) = decoded(extra, sink);
            return fail(format!(
                "topic {topic}: expected {} records, got {}; first extra: key={k} value={v}",
                expected.len(),
                actual.len()
            ));
        }
    }
    Ok(())
}

/// The record's key and value as JSON, and its window when the sink is windowed.
fn decoded(r: &Record, sink: Option<&Source>) -> (Json, Json, Option<Json>) {
    let (key, window) = match (sink.and_then(|s| s.window), r.key.as_deref()) {
        (Some(kind), Some(bytes)) => match kind.split(bytes) {
            Some((key, start, end)) => {
                let kind = if kind == WindowKind::Session { "session" } else { "time" };
                (Some(key), Some(serde_json::json!({"start": start, "end": end, "type": kind})))
            }
            None => (Some(bytes), None),
        },
        (_, key) => (key, None),
    };
    let key =
        decode(key, sink.map(|s| &s.key_format), &sink.map(|s| columns(s, Role::Key)).unwrap_or_default(), Role::Key);
    let value = decode(
        r.value.as_deref(),
        sink.map(|s| &s.value_format),
        &sink.map(|s| columns(s, Role::Value)).unwrap_or_default(),
        Role::Value,
    );
    (key, value, window)
}

fn compare_record(topic: &str, i: usize, exp: &Json, act: &Record, sink: Option<&Source>) -> Result<(), Outcome> {
    let (key, value, window) = decoded(act, sink);
    let null = Json::Null;
    let exp_key = exp.get("key").unwrap_or(&null);
    let exp_value = exp.get("value").unwrap_or(&null);
    if let Some(expected) = exp.get("window") {
        let same =
            |a: &Json, name: &str| a.get(name).and_then(Json::as_i64) == expected.get(name).and_then(Json::as_i64);
        let matches = window.as_ref().is_some_and(|w| {
            same(w, "start")
                && same(w, "end")
                && w.get("type").and_then(Json::as_str).map(str::to_lowercase)
                    == expected.get("type").and_then(Json::as_str).map(str::to_lowercase)
        });
        if !matches {
            return fail(format!(
                "topic {topic} record {i}: expected window {expected}, got {}",
                window.map_or("none".to_string(), |w| w.to_string())
            ));
        }
    }
    // The sink's schema as a struct (wrapped) or its single column (unwrapped), to compare by type.
    let schema_of = |role: Role| -> Option<SqlType> {
        let cols = columns(sink?, role);
        match cols.as_slice() {
            [(_, t)] if !matches!((role, exp_value), (Role::Value, Json::Object(_))) && role == Role::Value => {
                Some(t.clone())
            }
            [(_, t)] if role == Role::Key && !exp_key.is_object() => Some(t.clone()),
            _ => Some(SqlType::Struct(cols)),
        }
    };
    if !matches_typed(exp_key, &key, schema_of(Role::Key).as_ref())
        || !matches_typed(exp_value, &value, schema_of(Role::Value).as_ref())
    {
        return fail(format!(
            "topic {topic} record {i}: expected key={exp_key} value={exp_value}, got key={key} value={value}"
        ));
    }
    if let Some(ts) = exp.get("timestamp").and_then(Json::as_i64) {
        if ts != act.timestamp {
            return fail(format!("topic {topic} record {i}: expected timestamp {ts}, got {}", act.timestamp));
        }
    }
    if let Some(headers) = exp.get("headers").and_then(Json::as_array) {
        let actual: Vec<Json> = act
            .headers
            .iter()
            .map(|(k, v)| {
                serde_json::json!({"KEY": k, "VALUE": v.as_ref().map(|b| base64::engine::general_purpose::STANDARD.encode(b))})
            })
            .collect();
        if headers != &actual {
            return fail(format!("topic {topic} record {i}: expected headers {headers:?}, got {actual:?}"));
        }
    }
    Ok(())
}

/// Normalizes a schema string: no backticks, upper case, ksqlDB's short type names.
fn normalize_schema(s: &str) -> String {
    let s = s.replace('`', "").to_uppercase();
    let s = s.replace("INTEGER", "INT").replace("VARCHAR", "STRING").replace("PRIMARY KEY", "KEY");
    s.split_whitespace().collect::<Vec<_>>().join(" ").replace(" ,", ",").replace(", ", ",")
}

fn format_name(j: &Json) -> Option<String> {
    match j {
        Json::String(s) => Some(s.to_uppercase()),
        Json::Object(o) => o.get("format").and_then(Json::as_str).map(str::to_uppercase),
        _ => None,
    }
}

fn check_post(post: &Json, catalog: &Catalog, driver: &TestDriver) -> Result<(), Outcome> {
    for s in post.get("sources").and_then(Json::as_array).into_iter().flatten() {
        let name = s.get("name").and_then(Json::as_str).unwrap_or_default();
        let Ok(source) = catalog.source(name) else {
            return fail(format!("post: source {name} does not exist"));
        };
        if let Some(kind) = s.get("type").and_then(Json::as_str) {
            if !kind.eq_ignore_ascii_case(&source.kind.to_string()) {
                return fail(format!("post: {name} is a {}, expected {kind}", source.kind));
            }
        }
        if let Some(schema) = s.get("schema").and_then(Json::as_str) {
            let (want, got) = (normalize_schema(schema), normalize_schema(&source.schema_string()));
            if want != got {
                return fail(format!("post: {name} schema: expected {want}, got {got}"));
            }
        }
        if let Some(f) = s.get("keyFormat").and_then(format_name) {
            if f != source.key_format.format.to_string() {
                return fail(format!("post: {name} key format: expected {f}, got {}", source.key_format.format));
            }
        }
        if let Some(f) = s.get("valueFormat").and_then(format_name) {
            if f != source.value_format.format.to_string() {
                return fail(format!("post: {name} value format: expected {f}, got {}", source.value_format.format));
            }
        }
    }
    if let Some(blacklist) = post.get("topics").and_then(|t| t.get("blacklist")).and_then(Json::as_str) {
        let re =
            regex::Regex::new(&format!("^(?:{blacklist})$")).or_else(|e| fail(format!("bad blacklist regex: {e}")))?;
        let topics = driver.topic_names();
        if let Some(t) = topics.iter().find(|t| re.is_match(t)) {
            return fail(format!("post: topic {t} must not exist"));
        }
    }
    Ok(())
}
