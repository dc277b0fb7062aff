//! The SQL path as a client reaches it: statement limits, the parser, the planner, the SQL engine
//! and, for the queries a text starts, the runtime over a few records of every source.

use std::sync::Mutex;

use eddy_runtime::OutputRecord;
use eddy_server::Session;

use crate::TestDriver;

/// Sources of every key and value format over columns of every type, with one record each, so that
/// fuzzed queries have something to plan against and evaluate.
const FIXTURE: &str = "
CREATE STREAM s (id INT KEY, b BOOLEAN, i INT, l BIGINT, d DOUBLE, m DECIMAL(10, 2), t STRING,
    y BYTES, dt DATE, tm TIME, ts TIMESTAMP, a ARRAY<INT>, mp MAP<STRING, DOUBLE>,
    st STRUCT<x INT, z ARRAY<STRING>>)
  WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=2);
CREATE TABLE t (k STRING PRIMARY KEY, n BIGINT, v STRING) WITH (KAFKA_TOPIC='t', FORMAT='JSON', PARTITIONS=2);
CREATE STREAM c (k STRING KEY, n INT, v STRING) WITH (KAFKA_TOPIC='c', KEY_FORMAT='KAFKA', VALUE_FORMAT='DELIMITED', PARTITIONS=2);
CREATE TABLE agg AS SELECT id, COUNT(*) AS n, SUM(l) AS total FROM s GROUP BY id EMIT CHANGES;
CREATE TABLE win AS SELECT t, COUNT(*) AS n FROM s WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY t EMIT CHANGES;
";

/// Records for the fixture's sources.
fn fixture_records(driver: &TestDriver) {
    let record = |key: &[u8], value: &str, timestamp: i64| OutputRecord {
        timestamp,
        key: Some(key.to_vec()),
        value: Some(value.as_bytes().to_vec()),
        headers: Vec::new(),
    };
    let s = [
        (
            1i32,
            r#"{"B":true,"I":1,"L":10,"D":1.5,"M":1.25,"T":"a","Y":"AQI=","DT":19000,"TM":3600000,"TS":1700000000000,"A":[1,2],"MP":{"x":1.0},"ST":{"X":1,"Z":["p"]}}"#,
        ),
        (2, r#"{"B":false,"I":-7,"L":0,"D":-0.0,"M":0,"T":"","A":[],"MP":{},"ST":null}"#),
        (1, r#"{"I":2147483647,"L":-9223372036854775808,"D":1e308,"T":"bé"}"#),
    ];
    for (n, (id, value)) in s.into_iter().enumerate() {
        let _ = driver.produce("s", record(&id.to_be_bytes(), value, 1_000 * n as i64));
    }
    let _ = driver.produce("t", record(br#""k1""#, r#"{"N":5,"V":"x"}"#, 0));
    let _ = driver.produce("c", record(b"k2", "3,three", 0));
}

/// At most this many records are processed per input: a query may read its own output.
const MAX_STEPS: usize = 10_000;

/// The engine holding the fixture, and its catalog as it was made (Debug text), kept between
/// inputs: making it takes most of a second unoptimized, most inputs change nothing, and an
/// input that changed the catalog gets a fresh one for the next.
struct Fixture {
    driver: TestDriver,
    catalog: String,
}

fn fixture() -> Fixture {
    let mut driver = TestDriver::new();
    for result in driver.execute(FIXTURE) {
        if let Err(e) = result {
            panic!("the fuzz fixture no longer runs: {}", e.message);
        }
    }
    fixture_records(&driver);
    let catalog = format!("{:?}", driver.catalog());
    Fixture { driver, catalog }
}

/// Runs the text as one Query message would, in a new session of an engine holding the fixture,
/// then runs the queries it started over the fixture's records.
pub fn sql_statements(data: &[u8]) {
    static FIXTURE_ENGINE: Mutex<Option<Fixture>> = Mutex::new(None);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut slot = FIXTURE_ENGINE.lock().unwrap_or_else(|p| p.into_inner());
    let fixture = slot.get_or_insert_with(fixture);
    fixture.driver.session = Session::default();
    let outputs = fixture.driver.execute(text);
    let _ = fixture.driver.broker.run_at_most(MAX_STEPS);
    drop(outputs);
    if format!("{:?}", fixture.driver.catalog()) != fixture.catalog {
        *slot = None;
    }
}
