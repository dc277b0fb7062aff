//! Runs one RQTT case as ksqlDB's REST test executor does, over the Postgres protocol: properties
//! as `SET`, the statements before the first query as one script, the inputs, then each query;
//! RowDescription against the header and DataRows against the rows.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy_runtime::OutputRecord;
use futures::{pin_mut, StreamExt};
use serde_json::Value as Json;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::case::RqttCase;
use super::values::{cell_json, parse_header, HeaderColumn};
use crate::qtt::compare::matches_typed;
use crate::qtt::run::{check_outputs, create_topics, input_record};
use crate::qtt::Outcome as QttOutcome;
use crate::TestDriver;

/// The result of a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Eddy gives ksqlDB's responses (or its error).
    Pass,
    /// ksqlDB refuses the query; Eddy answers it with the rows `answers` lists for the case.
    Answers(Answer),
    Fail(String),
    Skip(String),
}

/// How an "Eddy answers" case was checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The rows match the case's entry in the answers file.
    Correct,
}

/// How long a query may take before the case fails.
const QUERY_TIMEOUT: Duration = Duration::from_secs(20);

/// What a query gave back: RowDescription columns (name, type) and text cells.
struct QueryResult {
    columns: Vec<(String, tokio_postgres::types::Type)>,
    rows: Vec<Vec<Option<String>>>,
}

/// Runs a case to its outcome. `answers` maps case names to the rows Eddy must give where ksqlDB
/// refuses the query (`{"name": {"rows": [[...], ...]}}`).
pub fn run_case(case: &RqttCase, answers: &BTreeMap<String, Json>) -> Outcome {
    if let Some(reason) = &case.base.skip {
        return Outcome::Skip(reason.clone());
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(case, answers))) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(reason)) => Outcome::Fail(reason),
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

fn qtt_reason(outcome: QttOutcome) -> String {
    match outcome {
        QttOutcome::Fail(r) | QttOutcome::Skip(r) => r,
        QttOutcome::Pass => String::new(),
    }
}

fn run(case: &RqttCase, answers: &BTreeMap<String, Json>) -> Result<Outcome, String> {
    let mut driver = TestDriver::new();
    let addr = driver.serve_pg().map_err(|e| format!("cannot serve the Postgres protocol: {e}"))?;
    create_topics(&case.base, &driver);
    let client = driver.block_on(connect(addr))?;
    let mut properties = case.base.properties.clone();
    if !properties.iter().any(|(k, _)| k == "auto.offset.reset") {
        properties.insert(0, ("auto.offset.reset".into(), "earliest".into()));
    }
    for (k, v) in &properties {
        let set = format!("SET '{}' = '{}';", k.replace('\'', "''"), v.replace('\'', "''"));
        if let Err(e) = driver.block_on(client.batch_execute(&set)) {
            return Err(format!("{set} failed: {}", message(&e)));
        }
    }
    // As ksqlDB's executor: statements before the first SELECT are one request; the rest are queries.
    let statements = &case.base.statements;
    let first_query = statements.iter().position(|s| s.starts_with("SELECT ")).unwrap_or(statements.len());
    let (admin, queries) = statements.split_at(first_query);
    if !admin.is_empty() {
        if let Err(e) = driver.block_on(client.simple_query(&admin.join("\n"))) {
            return expected_error(case, &e);
        }
    }
    let catalog = driver.catalog();
    let mut inputs: Vec<(String, OutputRecord)> = Vec::new();
    for input in &case.base.inputs {
        let topic = input.get("topic").and_then(Json::as_str).unwrap_or_default().to_string();
        inputs.push((topic, input_record(input, &catalog).map_err(qtt_reason)?));
    }
    let produce = |driver: &TestDriver| -> Result<(), String> {
        for (topic, record) in &inputs {
            driver.produce(topic, record.clone()).map_err(|e| format!("cannot produce to {topic}: {e}"))?;
        }
        Ok(())
    };
    if !case.wait_for_push_query {
        produce(&driver)?;
        driver.run()?;
    }
    let mut results = Vec::new();
    for (i, sql) in queries.iter().enumerate() {
        let expected = case.responses.get(admin.len() + i);
        let expected_rows = expected
            .and_then(|r| r.get("query"))
            .and_then(Json::as_array)
            .map_or(0, |q| q.iter().filter(|m| m.get("row").is_some()).count());
        let produce_on_start: Option<&Produce<'_>> = (case.wait_for_push_query && i == 0).then_some(&produce);
        match run_query(&driver, &client, sql, produce_on_start, expected_rows) {
            Ok(result) => results.push(result),
            Err(QueryError::Db(e)) => return expected_error(case, &e),
            Err(QueryError::Other(reason)) => return Err(reason),
        }
    }
    if case.expected_error.is_some() {
        return eddy_answers(case, results.last(), answers);
    }
    if let Some(outputs) = &case.base.outputs {
        driver.run()?;
        check_outputs(outputs, &catalog, &driver).map_err(qtt_reason)?;
    }
    for (i, result) in results.iter().enumerate() {
        let index = admin.len() + i;
        let Some(expected) = case.responses.get(index).and_then(|r| r.get("query")).and_then(Json::as_array) else {
            continue;
        };
        compare(expected, result, case.verify_order).map_err(|e| format!("statement {}: {e}", index + 1))?;
    }
    Ok(Outcome::Pass)
}

async fn connect(addr: std::net::SocketAddr) -> Result<Client, String> {
    let config = format!("host={} port={} user=rqtt dbname=ksql", addr.ip(), addr.port());
    let (client, connection) =
        tokio_postgres::connect(&config, NoTls).await.map_err(|e| format!("cannot connect: {e}"))?;
    tokio::spawn(connection);
    Ok(client)
}

fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string())
}

/// An error the case may expect: it passes when the message contains the expected one.
fn expected_error(case: &RqttCase, e: &tokio_postgres::Error) -> Result<Outcome, String> {
    let actual = message(e);
    match case.expected_error.as_ref().map(|x| x.get("message").and_then(Json::as_str).unwrap_or_default()) {
        Some(m) if actual.contains(m) => Ok(Outcome::Pass),
        Some(m) => Err(format!("expected an error containing {m:?}, got {actual:?}")),
        None => Err(format!("unexpected error: {actual}")),
    }
}

/// ksqlDB refuses the query, Eddy answered it: right when the rows are the ones the answers file
/// gives for the case.
fn eddy_answers(
    case: &RqttCase,
    result: Option<&QueryResult>,
    answers: &BTreeMap<String, Json>,
) -> Result<Outcome, String> {
    let refusal = case.expected_error.as_ref().and_then(|e| e.get("message")).and_then(Json::as_str).unwrap_or("");
    let Some(result) = result else {
        return Err(format!("expected an error containing {refusal:?}, but every statement succeeded"));
    };
    let shown: Vec<String> = result.rows.iter().take(5).map(|r| format!("{r:?}")).collect();
    let Some(answer) = answers.get(&case.base.name) else {
        return Err(format!(
            "ksqlDB refuses ({refusal:?}); Eddy answered {} row(s) {} but the answers file has no entry",
            result.rows.len(),
            shown.join(" ")
        ));
    };
    let rows = answer.get("rows").and_then(Json::as_array).cloned().unwrap_or_default();
    let mut expected = vec![serde_json::json!({"header": {"schema": answer.get("header")}})];
    expected.extend(rows.into_iter().map(|r| serde_json::json!({"row": {"columns": r}})));
    compare(&expected, result, false).map_err(|e| format!("Eddy answers where ksqlDB refuses, wrongly: {e}"))?;
    Ok(Outcome::Answers(Answer::Correct))
}

/// Produces the case's inputs (once a push query runs, when the case waits for one).
type Produce<'a> = dyn Fn(&TestDriver) -> Result<(), String> + 'a;

enum QueryError {
    Db(tokio_postgres::Error),
    Other(String),
}

/// Runs a query: Describe for the RowDescription (names and types), then the simple protocol for
/// text rows. A push query runs until its LIMIT, or until the rows the case expects have come and
/// it is cancelled; `produce_on_start` runs once the push query is running.
fn run_query(
    driver: &TestDriver,
    client: &Client,
    sql: &str,
    produce_on_start: Option<&Produce<'_>>,
    expected_rows: usize,
) -> Result<QueryResult, QueryError> {
    let statement = driver.block_on(client.prepare(sql)).map_err(QueryError::Db)?;
    let columns = statement.columns().iter().map(|c| (c.name().to_string(), c.type_().clone())).collect();
    let push = sql.to_uppercase().contains("EMIT CHANGES");
    let running_before = driver.broker.running_queries();
    let rows = driver.block_on(async {
        let stream = client.simple_query_raw(sql).await.map_err(QueryError::Db)?;
        pin_mut!(stream);
        let deadline = Instant::now() + QUERY_TIMEOUT;
        let (mut started, mut cancelled, mut rows) = (!push, false, Vec::new());
        loop {
            if !started && driver.broker.running_queries() > running_before {
                started = true;
                if let Some(produce) = produce_on_start {
                    produce(driver).map_err(QueryError::Other)?;
                }
            }
            if push && started {
                driver.run().map_err(QueryError::Other)?;
                if !cancelled && rows.len() >= expected_rows {
                    cancelled = true;
                    let _ = client.cancel_token().cancel_query(NoTls).await;
                }
            }
            match tokio::time::timeout(Duration::from_millis(5), stream.next()).await {
                Ok(Some(Ok(SimpleQueryMessage::Row(row)))) => {
                    rows.push((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect())
                }
                Ok(Some(Ok(SimpleQueryMessage::CommandComplete(_)))) | Ok(None) => break,
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) if cancelled && e.code() == Some(&SqlState::QUERY_CANCELED) => break,
                Ok(Some(Err(e))) => return Err(QueryError::Db(e)),
                Err(_) => {}
            }
            if Instant::now() > deadline {
                return Err(QueryError::Other(format!(
                    "no end after {QUERY_TIMEOUT:?} ({} of {expected_rows} rows): {sql}",
                    rows.len()
                )));
            }
        }
        Ok(rows)
    })?;
    Ok(QueryResult { columns, rows })
}

/// Compares a query's result with the expected REST messages: the header's names and types, then
/// the rows (in order when `verify_order`, else as a multiset).
fn compare(expected: &[Json], result: &QueryResult, verify_order: bool) -> Result<(), String> {
    let schema = expected
        .iter()
        .find_map(|m| m.get("header").and_then(|h| h.get("schema")).and_then(Json::as_str))
        .ok_or("the expected response has no header")?;
    let header = parse_header(schema)?;
    let names: Vec<&str> = header.iter().map(|c| c.name.as_str()).collect();
    let actual_names: Vec<&str> = result.columns.iter().map(|(n, _)| n.as_str()).collect();
    if names != actual_names {
        return Err(format!("columns: expected {names:?}, got {actual_names:?}"));
    }
    for (HeaderColumn { name, ty }, (_, actual)) in header.iter().zip(&result.columns) {
        let want = eddy_server::pg_types::pg_type(ty);
        if want.oid() != actual.oid() {
            return Err(format!("column {name}: expected type {} ({ty}), got {}", want.name(), actual.name()));
        }
    }
    let want: Vec<&Json> = expected.iter().filter_map(|m| m.get("row").and_then(|r| r.get("columns"))).collect();
    let got: Vec<Json> = result
        .rows
        .iter()
        .map(|r| Json::Array(r.iter().zip(&header).map(|(cell, c)| cell_json(cell.as_deref(), &c.ty)).collect()))
        .collect();
    let row_type = eddy_catalog::SqlType::Struct(Vec::new());
    let same = |e: &Json, a: &Json| match (e, a) {
        (Json::Array(e), Json::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).zip(&header).all(|((e, a), c)| matches_typed(e, a, Some(&c.ty)))
        }
        _ => matches_typed(e, a, Some(&row_type)),
    };
    let show = |rows: &[Json]| rows.iter().map(Json::to_string).collect::<Vec<_>>().join(" ");
    let shown_want: Vec<Json> = want.iter().map(|j| (*j).clone()).collect();
    if want.len() != got.len() {
        return Err(format!(
            "expected {} rows, got {}: expected {} got {}",
            want.len(),
            got.len(),
            show(&shown_want),
            show(&got)
        ));
    }
    if verify_order {
        if let Some(i) = (0..want.len()).find(|&i| !same(want[i], &got[i])) {
            return Err(format!("row {i}: expected {}, got {}", want[i], got[i]));
        }
        return Ok(());
    }
    let mut unmatched: Vec<&Json> = got.iter().collect();
    for w in &want {
        match unmatched.iter().position(|g| same(w, g)) {
            Some(p) => {
                unmatched.remove(p);
            }
            None => return Err(format!("missing row {w}: expected {} got {}", show(&shown_want), show(&got))),
        }
    }
    Ok(())
}
