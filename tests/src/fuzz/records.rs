//! Every record decoder: the bytes are a record's key, its value and a header of sources in each
//! key and value format, over columns of every type.

use std::sync::OnceLock;

use eddy_runtime::{Record, RecordDecoder};

use crate::TestDriver;

/// Sources whose decoders the input goes through.
const SOURCES: &str = "
CREATE STREAM json_all (k STRUCT<a INT, b STRING> KEY, b BOOLEAN, i INT, l BIGINT, d DOUBLE,
    m DECIMAL(10, 2), t STRING, y BYTES, dt DATE, tm TIME, ts TIMESTAMP, a ARRAY<INT>,
    mp MAP<STRING, ARRAY<DOUBLE>>, st STRUCT<x INT, z ARRAY<STRUCT<q BOOLEAN>>>,
    hs ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, h BYTES HEADER('h'))
  WITH (KAFKA_TOPIC='json_all', KEY_FORMAT='JSON', VALUE_FORMAT='JSON', PARTITIONS=1);
CREATE STREAM json_ts (v STRING, at STRING) WITH (KAFKA_TOPIC='json_ts', VALUE_FORMAT='JSON',
    TIMESTAMP='at', TIMESTAMP_FORMAT='yyyy-MM-dd''T''HH:mm:ss.SSSX', PARTITIONS=1);
CREATE STREAM json_unwrapped (k BIGINT KEY, v DECIMAL(4, 3)) WITH (KAFKA_TOPIC='json_unwrapped',
    VALUE_FORMAT='JSON', WRAP_SINGLE_VALUE=false, PARTITIONS=1);
CREATE STREAM delimited (k STRING KEY, b BOOLEAN, i INT, l BIGINT, d DOUBLE, m DECIMAL(6, 1),
    t STRING, y BYTES, dt DATE, tm TIME, ts TIMESTAMP)
  WITH (KAFKA_TOPIC='delimited', KEY_FORMAT='KAFKA', VALUE_FORMAT='DELIMITED', PARTITIONS=1);
CREATE STREAM delimited_tab (k DOUBLE KEY, a STRING, b INT)
  WITH (KAFKA_TOPIC='delimited_tab', KEY_FORMAT='KAFKA', VALUE_FORMAT='DELIMITED',
    VALUE_DELIMITER='TAB', PARTITIONS=1);
CREATE STREAM kafka_int (k INT KEY, v INT) WITH (KAFKA_TOPIC='kafka_int', FORMAT='KAFKA', PARTITIONS=1);
CREATE STREAM kafka_bigint (k BIGINT KEY, v DOUBLE) WITH (KAFKA_TOPIC='kafka_bigint', FORMAT='KAFKA', PARTITIONS=1);
CREATE STREAM kafka_bytes (k BYTES KEY, v STRING) WITH (KAFKA_TOPIC='kafka_bytes', FORMAT='KAFKA', PARTITIONS=1);
CREATE TABLE json_table (k STRING PRIMARY KEY, v ARRAY<MAP<STRING, INT>>)
  WITH (KAFKA_TOPIC='json_table', FORMAT='JSON', PARTITIONS=1);
CREATE TABLE windowed WITH (KAFKA_TOPIC='windowed', FORMAT='JSON') AS
  SELECT t, COUNT(*) AS n FROM json_all WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY t;
CREATE TABLE session_windowed WITH (KAFKA_TOPIC='session_windowed', FORMAT='KAFKA') AS
  SELECT i, COUNT(*) AS n FROM json_all WINDOW SESSION (1 MINUTE) GROUP BY i;
";

/// The decoder of each source of `SOURCES`.
fn decoders() -> &'static [RecordDecoder] {
    static DECODERS: OnceLock<Vec<RecordDecoder>> = OnceLock::new();
    DECODERS.get_or_init(|| {
        let mut driver = TestDriver::new();
        for result in driver.execute(SOURCES) {
            if let Err(e) = result {
                panic!("the fuzz sources no longer run: {}", e.message);
            }
        }
        let catalog = driver.catalog();
        catalog
            .sources()
            .map(|source| {
                let (spec, _) = eddy_planner::source_spec(source, &source.name);
                RecordDecoder::new(&spec).unwrap_or_else(|e| panic!("decoder for {}: {e}", source.name))
            })
            .collect()
    })
}

/// Decodes the bytes, split at the first 0xFF byte into a key and a value (the whole input is both
/// when there is none), as one record of every source; and the whole input as a value with no key.
pub fn record_decoders(data: &[u8]) {
    let (key, value) = match data.iter().position(|&b| b == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, data),
    };
    let records = [
        Record {
            partition: 0,
            offset: 0,
            timestamp: 0,
            key: Some(key.to_vec()),
            value: Some(value.to_vec()),
            headers: vec![("h".to_string(), Some(key.to_vec())), ("x".to_string(), None)],
        },
        Record { partition: 0, offset: 1, timestamp: -1, key: None, value: Some(data.to_vec()), headers: Vec::new() },
        Record {
            partition: 0,
            offset: 2,
            timestamp: i64::MAX,
            key: Some(data.to_vec()),
            value: None,
            headers: Vec::new(),
        },
    ];
    for decoder in decoders() {
        let _ = decoder.decode(&records);
    }
}
