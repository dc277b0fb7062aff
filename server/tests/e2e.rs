//! End to end: the real `eddy-server` binary, a Postgres client (tokio-postgres) and rdkafka clients.

mod support;

use std::time::Duration;

use futures::StreamExt;
use support::{consume, produce, producer, Server};
use tokio_postgres::SimpleQueryMessage;

/// Rows of a simple query as text.
async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_query_and_csas_on_the_embedded_broker() {
    let server = Server::start(&[]);
    let client = server.connect().await;

    // Postgres manners.
    let version: String = client.query_one("SELECT version()", &[]).await.expect("version").get(0);
    assert!(version.contains("Eddy"), "{version}");
    assert_eq!(rows(&client, "SHOW server_version").await, vec![vec![Some("15.0".to_string())]]);

    client
        .batch_execute("CREATE STREAM pageviews (id INT KEY, url STRING, ms BIGINT) WITH (KAFKA_TOPIC='pageviews', VALUE_FORMAT='JSON', PARTITIONS=2)")
        .await
        .expect("create stream");

    // A push query streams each row as its record arrives.
    let push = server.connect().await;
    let stream = push
        .simple_query_raw("SELECT id, UCASE(url) AS u, ms FROM pageviews WHERE ms > 0 EMIT CHANGES LIMIT 3")
        .await
        .expect("push query");
    futures::pin_mut!(stream);
    match tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("row description")
        .expect("message")
        .expect("ok")
    {
        SimpleQueryMessage::RowDescription(cols) => {
            let names: Vec<&str> = cols.iter().map(|c| c.name()).collect();
            assert_eq!(names, ["ID", "U", "MS"]);
        }
        other => panic!("expected a row description, got {other:?}"),
    }
    let kafka = producer(&server.kafka);
    let records = [(1, "a.com", 10), (2, "b.com", 0), (3, "c.com", 30), (4, "d.com", 40)];
    let mut seen = Vec::new();
    for (id, url, ms) in records {
        produce(
            &kafka,
            "pageviews",
            &(id as i32).to_be_bytes(),
            &format!(r#"{{"URL":"{url}","MS":{ms}}}"#),
            1_000 * id,
        )
        .await;
        if ms == 0 {
            continue; // filtered out by the WHERE clause
        }
        let msg = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("row in time")
            .expect("message")
            .expect("ok");
        let SimpleQueryMessage::Row(row) = msg else { panic!("expected a row, got {msg:?}") };
        seen.push((row.get(0).map(str::to_string), row.get(1).map(str::to_string), row.get(2).map(str::to_string)));
    }
    assert_eq!(
        seen,
        vec![
            (Some("1".into()), Some("A.COM".into()), Some("10".into())),
            (Some("3".into()), Some("C.COM".into()), Some("30".into())),
            (Some("4".into()), Some("D.COM".into()), Some("40".into())),
        ]
    );
    // LIMIT 3 ends the query.
    match tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("completion")
        .expect("message")
        .expect("ok")
    {
        SimpleQueryMessage::CommandComplete(n) => assert_eq!(n, 3),
        other => panic!("expected completion, got {other:?}"),
    }

    // A persistent query with WHERE, projection and PARTITION BY, from the beginning.
    client.batch_execute("SET 'auto.offset.reset'='earliest'").await.expect("set");
    client
        .batch_execute("CREATE STREAM by_url WITH (KAFKA_TOPIC='by_url', PARTITIONS=3) AS SELECT id, UCASE(url) AS url, ms FROM pageviews WHERE ms >= 20 PARTITION BY UCASE(url)")
        .await
        .expect("csas");
    let mut sink = consume(&server.kafka, "by_url", 2);
    sink.sort();
    assert_eq!(
        sink,
        vec![
            (Some(b"C.COM".to_vec()), Some(r#"{"ID":3,"MS":30}"#.to_string())),
            (Some(b"D.COM".to_vec()), Some(r#"{"ID":4,"MS":40}"#.to_string())),
        ]
    );
    let streams = rows(&client, "SHOW STREAMS").await;
    assert!(streams.iter().any(|r| r[0].as_deref() == Some("BY_URL")), "{streams:?}");

    // Errors carry a SQLSTATE and a position.
    let err = client.simple_query("SELECT nope FROM pageviews EMIT CHANGES").await.expect_err("unknown column");
    let db = err.as_db_error().expect("db error");
    assert_eq!(db.code().code(), "42703");
    assert_eq!(db.position(), Some(&tokio_postgres::error::ErrorPosition::Original(8)));
    let err = client.simple_query("SELEKT 1").await.expect_err("syntax");
    assert_eq!(err.as_db_error().expect("db error").code().code(), "42601");

    // A malformed record is skipped; the query keeps running.
    produce(&kafka, "pageviews", &5i32.to_be_bytes(), "{not json", 5_000).await;
    produce(&kafka, "pageviews", &6i32.to_be_bytes(), r#"{"URL":"f.com","MS":60}"#, 6_000).await;
    let sink = consume(&server.kafka, "by_url", 3);
    assert!(
        sink.iter()
            .any(|(k, v)| k.as_deref() == Some(b"F.COM".as_slice()) && v.as_deref() == Some(r#"{"ID":6,"MS":60}"#)),
        "{sink:?}"
    );
    server.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_recovers_streams_and_queries() {
    // A broker that outlives the servers: the mock cluster hosted by this test process. It has no
    // CreateTopics API, so the topics are created here first, as an operator would.
    let broker = eddy_runtime::kafka::EmbeddedKafka::start().expect("mock cluster");
    let bootstrap = broker.bootstrap_servers().to_string();
    for (topic, partitions) in [("_eddy_e2e_command_topic", 1), ("events", 1), ("events_out", 1)] {
        broker.create_topic(topic, partitions).await.expect("create topic");
    }
    let args = ["--kafka", bootstrap.as_str(), "--service-id", "e2e"];

    let server = Server::start(&args);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE STREAM events (id INT KEY, v STRING) WITH (KAFKA_TOPIC='events', VALUE_FORMAT='JSON');
             SET 'auto.offset.reset'='earliest';
             CREATE STREAM out WITH (KAFKA_TOPIC='events_out') AS SELECT id, UCASE(v) AS v FROM events;",
        )
        .await
        .expect("setup");
    let kafka = producer(&bootstrap);
    produce(&kafka, "events", &1i32.to_be_bytes(), r#"{"V":"one"}"#, 1).await;
    produce(&kafka, "events", &2i32.to_be_bytes(), r#"{"V":"two"}"#, 2).await;
    assert_eq!(consume(&bootstrap, "events_out", 2).len(), 2);
    drop(client);
    server.terminate();

    // The new server replays the command log and resumes the query from its committed offsets.
    let server = Server::start(&args);
    let client = server.connect().await;
    let streams = rows(&client, "SHOW STREAMS").await;
    assert!(streams.iter().any(|r| r[0].as_deref() == Some("OUT")), "{streams:?}");
    let queries = rows(&client, "SHOW QUERIES").await;
    assert!(queries.iter().any(|r| r[0].as_deref().is_some_and(|id| id.starts_with("CSAS_OUT"))), "{queries:?}");
    produce(&kafka, "events", &3i32.to_be_bytes(), r#"{"V":"three"}"#, 3).await;
    let out = consume(&bootstrap, "events_out", 3);
    let values: Vec<Option<String>> = out.into_iter().map(|(_, v)| v).collect();
    assert_eq!(
        values,
        vec![
            Some(r#"{"V":"ONE"}"#.to_string()),
            Some(r#"{"V":"TWO"}"#.to_string()),
            Some(r#"{"V":"THREE"}"#.to_string())
        ]
    );
    server.terminate();
}

/// The latest value per key of a topic, read from the beginning until `done` holds (or panics
/// after 60 s).
fn latest_until(
    bootstrap: &str,
    topic: &str,
    done: impl Fn(&std::collections::BTreeMap<Vec<u8>, String>) -> bool,
) -> std::collections::BTreeMap<Vec<u8>, String> {
    use rdkafka::Message;
    let consumer = support::reader(bootstrap, topic);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut latest = std::collections::BTreeMap::new();
    while !done(&latest) {
        assert!(std::time::Instant::now() < deadline, "timed out on {topic}: {latest:?}");
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let value = m.payload().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
            latest.insert(m.key().unwrap_or_default().to_vec(), value);
        }
    }
    latest
}

/// The offset a query's consumer group committed for partition 0 of a topic, once it is `want`
/// (or panics after 60 s).
fn wait_for_commit(bootstrap: &str, query_id: &str, topic: &str, want: i64) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("_eddy_query_{query_id}"))
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let committed = consumer.committed_offsets(tpl.clone(), Duration::from_secs(10)).expect("committed");
        let at = committed.elements().first().map(|e| e.offset());
        if at == Some(Offset::Offset(want)) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{query_id} committed {at:?}, not {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Issue 18's case: a server against a broker it does not own counts clicks per user, is killed
/// (SIGKILL) and started again; the aggregation's state is rebuilt from its input before the
/// query goes on, so two more clicks per user make 12, not 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_keep_their_values_across_a_kill_and_restart() {
    let broker = eddy_runtime::kafka::EmbeddedKafka::start().expect("mock cluster");
    let bootstrap = broker.bootstrap_servers().to_string();
    // The mock cluster creates no topics for other processes: the GROUP BY's repartition topic too.
    let repartition = eddy_runtime::repartition_topic("e2e_state", "CTAS_PER_USER_0");
    for topic in ["_eddy_e2e_state_command_topic", "clicks", "PER_USER", repartition.as_str()] {
        broker.create_topic(topic, 1).await.expect("create topic");
    }
    let args = ["--kafka", bootstrap.as_str(), "--service-id", "e2e_state"];
    let server = Server::start(&args);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE STREAM clicks (id INT KEY, user_id STRING, ms INT) WITH (KAFKA_TOPIC='clicks', VALUE_FORMAT='JSON');
             SET 'auto.offset.reset'='earliest';
             CREATE TABLE per_user AS SELECT user_id, COUNT(*) AS n, SUM(ms) AS total FROM clicks GROUP BY user_id;",
        )
        .await
        .expect("setup");
    let query_id = rows(&client, "SHOW QUERIES")
        .await
        .into_iter()
        .find(|r| r[3].as_deref() == Some("PER_USER"))
        .and_then(|r| r[0].clone())
        .expect("the query is listed");
    let kafka = producer(&bootstrap);
    let users = ["ann", "bob", "cy"];
    let mut ts = 0i64;
    for round in 0..10 {
        for user in users {
            ts += 1;
            let value = format!(r#"{{"USER_ID":"{user}","MS":{}}}"#, round + 1);
            produce(&kafka, "clicks", &(ts as i32).to_be_bytes(), &value, 1_000 * ts).await;
        }
    }
    let counted = |n: u32, total: u32| {
        move |latest: &std::collections::BTreeMap<Vec<u8>, String>| {
            latest.len() == 3 && latest.values().all(|v| v == &format!(r#"{{"N":{n},"TOTAL":{total}}}"#))
        }
    };
    latest_until(&bootstrap, "PER_USER", counted(10, 55));
    wait_for_commit(&bootstrap, &query_id, "clicks", 30);
    drop(client);
    drop(server); // SIGKILL

    let server = Server::start(&args);
    for round in 10..12 {
        for user in users {
            ts += 1;
            let value = format!(r#"{{"USER_ID":"{user}","MS":{}}}"#, round + 1);
            produce(&kafka, "clicks", &(ts as i32).to_be_bytes(), &value, 1_000 * ts).await;
        }
    }
    // 12 clicks each, MS 1..=12: the state of the first 10 was rebuilt, not restarted from empty.
    latest_until(&bootstrap, "PER_USER", counted(12, 78));
    let client = server.connect().await;
    let status = rows(&client, "SHOW QUERIES").await.into_iter().find(|r| r[3].as_deref() == Some("PER_USER"));
    let status = status.and_then(|r| r[2].clone()).unwrap_or_default();
    assert!(status.starts_with("RUNNING") && status.contains("records in: 6"), "{status}");
    assert!(status.ends_with("state restored from 30 records)"), "{status}");
    server.terminate();
}

/// Push queries listed by SHOW QUERIES.
async fn push_queries(client: &tokio_postgres::Client) -> usize {
    rows(client, "SHOW QUERIES").await.iter().filter(|r| r[1].as_deref() == Some("PUSH")).count()
}

/// Waits (up to 30 s) until SHOW QUERIES lists `n` push queries.
async fn wait_for_push_queries(client: &tokio_postgres::Client, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while push_queries(client).await != n {
        assert!(
            std::time::Instant::now() < deadline,
            "expected {n} push queries: {:?}",
            rows(client, "SHOW QUERIES").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_queries_end_when_cancelled_or_the_client_leaves() {
    let server = Server::start(&[]);
    let admin = server.connect().await;
    admin
        .batch_execute(
            "CREATE STREAM s (id INT KEY, v STRING) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1)",
        )
        .await
        .expect("create stream");

    // Cancel (Ctrl-C in psql): the query ends with SQLSTATE 57014 and is freed.
    let client = server.connect().await;
    let cancel = client.cancel_token();
    let query = tokio::spawn(async move {
        let result = client.simple_query("SELECT * FROM s EMIT CHANGES").await;
        (client, result)
    });
    wait_for_push_queries(&admin, 1).await;
    cancel.cancel_query(tokio_postgres::NoTls).await.expect("cancel request");
    let (client, result) =
        tokio::time::timeout(Duration::from_secs(30), query).await.expect("query ends").expect("task");
    let err = result.expect_err("cancelled query fails");
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("57014"), "{err}");
    wait_for_push_queries(&admin, 0).await;
    // The connection stays usable after a cancel.
    assert_eq!(rows(&client, "SELECT 1 AS one").await, vec![vec![Some("1".to_string())]]);

    // A client that goes away mid query: the server notices and frees the query.
    let (leaving, connection) = server.connect_with_handle().await;
    let stream = leaving.simple_query_raw("SELECT * FROM s EMIT CHANGES").await.expect("push query");
    futures::pin_mut!(stream);
    match tokio::time::timeout(Duration::from_secs(30), stream.next()).await.expect("row description") {
        Some(Ok(SimpleQueryMessage::RowDescription(_))) => {}
        other => panic!("expected a row description, got {other:?}"),
    }
    wait_for_push_queries(&admin, 1).await;
    connection.abort();
    drop(leaving);
    wait_for_push_queries(&admin, 0).await;
    server.terminate();
}

/// The names a prepared lookup returns for `keys`, as text.
async fn names(
    client: &tokio_postgres::Client,
    statement: &tokio_postgres::Statement,
    keys: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Vec<String> {
    let mut names: Vec<String> =
        client.query(statement, keys).await.expect("lookup").iter().map(|r| r.get::<_, String>(0)).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_pull_queries_look_keys_up_and_follow_ddl() {
    let server = Server::start(&[]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE people (id STRING PRIMARY KEY, name STRING, age INT) WITH (KAFKA_TOPIC='people', VALUE_FORMAT='JSON', PARTITIONS=2);
             CREATE TABLE ids (k BIGINT PRIMARY KEY, name STRING) WITH (KAFKA_TOPIC='ids', VALUE_FORMAT='JSON', PARTITIONS=1);
             INSERT INTO people (id, name, age) VALUES ('a', 'Ann', 30);
             INSERT INTO people (id, name, age) VALUES ('b', 'Bob', 40);
             INSERT INTO people (id, name, age) VALUES ('007', 'Bond', 50);
             INSERT INTO ids (k, name) VALUES (7, 'seven');",
        )
        .await
        .expect("setup");

    // Key lookups, one or several keys, text that looks like a number, a key that is not there.
    let by_id = client.prepare("SELECT name FROM people WHERE id = $1").await.expect("prepare");
    assert_eq!(names(&client, &by_id, &[&"a"]).await, ["Ann"]);
    assert_eq!(names(&client, &by_id, &[&"007"]).await, ["Bond"]);
    assert!(names(&client, &by_id, &[&"zzz"]).await.is_empty());
    let either = client.prepare("SELECT name FROM people WHERE id IN ($1, $2)").await.expect("prepare");
    assert_eq!(names(&client, &either, &[&"a", &"b"]).await, ["Ann", "Bob"]);
    assert_eq!(names(&client, &either, &[&"b", &"b"]).await, ["Bob"]);
    // A WHERE clause that is more than lookups is still applied in full.
    let older = client.prepare("SELECT name FROM people WHERE id = $1 AND age > $2").await.expect("prepare");
    assert_eq!(names(&client, &older, &[&"b", &35i32]).await, ["Bob"]);
    assert!(names(&client, &older, &[&"a", &35i32]).await.is_empty());
    // An INT parameter for a BIGINT key.
    let by_k = client.prepare("SELECT name FROM ids WHERE k = $1").await.expect("prepare");
    assert_eq!(names(&client, &by_k, &[&7i64]).await, ["seven"]);

    // The table is dropped and declared again over another topic: the prepared lookup reads the
    // new one.
    client
        .batch_execute(
            "DROP TABLE people;
             CREATE TABLE people (id STRING PRIMARY KEY, name STRING, age INT) WITH (KAFKA_TOPIC='people_v2', VALUE_FORMAT='JSON', PARTITIONS=1);
             INSERT INTO people (id, name, age) VALUES ('a', 'Anna', 31);",
        )
        .await
        .expect("redeclare");
    assert_eq!(names(&client, &by_id, &[&"a"]).await, ["Anna"]);
    assert!(names(&client, &by_id, &[&"b"]).await.is_empty());

    // Pull-query properties still apply to the next execution.
    let by_age = client.prepare("SELECT name FROM people WHERE age > $1").await.expect("prepare");
    assert_eq!(names(&client, &by_age, &[&30i32]).await, ["Anna"]);
    client.batch_execute("SET 'ksql.query.pull.table.scan.enabled'='false';").await.expect("set");
    let error = client.query(&by_age, &[&30i32]).await.expect_err("a scan is refused");
    let message = error.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
    assert!(message.contains("WHERE clause missing key column"), "{error:?}");
    assert_eq!(names(&client, &by_id, &[&"a"]).await, ["Anna"]);
    server.terminate();
}

/// The status SHOW QUERIES gives the persistent query writing to `sink`.
async fn query_status(client: &tokio_postgres::Client, sink: &str) -> String {
    rows(client, "SHOW QUERIES")
        .await
        .into_iter()
        .find(|r| r[3].as_deref() == Some(sink))
        .and_then(|r| r[2].clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_broker_refuses_is_skipped_and_counted() {
    let server = Server::start(&[]);
    let client = server.connect().await;
    client
        .batch_execute(
            "SET 'auto.offset.reset'='earliest';
             CREATE STREAM big (id INT KEY, v STRING) WITH (KAFKA_TOPIC='big', VALUE_FORMAT='JSON', PARTITIONS=1);
             CREATE STREAM doubled AS SELECT id, v, v AS w FROM big;",
        )
        .await
        .expect("create");
    // An INSERT over the producer's message.max.bytes (1,000,000) is refused with 54000.
    let err = client
        .simple_query(&format!("INSERT INTO big (id, v) VALUES (0, '{}')", "x".repeat(1_200_000)))
        .await
        .expect_err("too large");
    assert_eq!(err.as_db_error().expect("db error").code().code(), "54000", "{err}");
    // 600 KB in, 1.2 MB out: the output record cannot be produced; the records around it can.
    let kafka = producer(&server.kafka);
    produce(&kafka, "big", &1i32.to_be_bytes(), r#"{"V":"a"}"#, 1_000).await;
    produce(&kafka, "big", &2i32.to_be_bytes(), &format!(r#"{{"V":"{}"}}"#, "y".repeat(600_000)), 2_000).await;
    produce(&kafka, "big", &3i32.to_be_bytes(), r#"{"V":"c"}"#, 3_000).await;
    let sink = consume(&server.kafka, "DOUBLED", 2);
    assert_eq!(
        sink.iter().map(|(_, v)| v.clone().unwrap_or_default()).collect::<Vec<_>>(),
        vec![r#"{"V":"a","W":"a"}"#.to_string(), r#"{"V":"c","W":"c"}"#.to_string()]
    );
    let status = query_status(&client, "DOUBLED").await;
    assert!(status.starts_with("RUNNING") && status.contains("errors: 1"), "{status}");

    // ksqlDB's ksql.fail.on.production.error=true fails the query instead.
    client
        .batch_execute(
            "SET 'ksql.fail.on.production.error'='true';
             CREATE STREAM strict AS SELECT id, v, v AS w FROM big;",
        )
        .await
        .expect("create strict");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = query_status(&client, "STRICT").await;
        if status.starts_with("ERROR") {
            assert!(status.contains("larger than the broker accepts"), "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the strict query did not fail: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = client.simple_query("SET 'ksql.fail.on.production.error'='maybe'").await.expect_err("invalid value");
    assert_eq!(err.as_db_error().expect("db error").code().code(), "22023", "{err}");
    server.terminate();
}

/// A query resuming at an offset its source partition no longer holds (retention, or the embedded
/// broker's 5 MiB per partition, deleted the records first) goes on from the log's start and
/// reports the records it never read as lost, in SHOW QUERIES and the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_deleted_before_a_query_read_them_are_reported_lost() {
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};

    let server = Server::start(&[]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE STREAM src (id INT KEY, v STRING) WITH (KAFKA_TOPIC='src', VALUE_FORMAT='JSON', PARTITIONS=1)",
        )
        .await
        .expect("create");
    // 8 records of 900 KB: the embedded broker keeps 5 MiB of a partition and deletes the oldest.
    let kafka = producer(&server.kafka);
    for id in 0..8i32 {
        produce(&kafka, "src", &id.to_be_bytes(), &format!(r#"{{"V":"{}"}}"#, "x".repeat(900_000)), 1_000).await;
    }
    let group = |id: &str| -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &server.kafka)
            .set("group.id", id)
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer")
    };
    let (low, high) = group("e2e-watermarks").fetch_watermarks("src", 0, Duration::from_secs(10)).expect("watermarks");
    assert!(low > 0 && high == 8, "the broker kept offsets {low}..{high}");
    // The query's group last committed offset 0, as a query stopped before the deletion would have.
    let query_id = "CSAS_KEPT_0";
    let mut at_zero = TopicPartitionList::new();
    at_zero.add_partition_offset("src", 0, Offset::Offset(0)).expect("offset");
    group(&format!("_eddy_query_{query_id}")).commit(&at_zero, CommitMode::Sync).expect("commit");

    client.batch_execute("CREATE STREAM kept AS SELECT id, LEN(v) AS n FROM src").await.expect("csas");
    let kept = consume(&server.kafka, "KEPT", (high - low) as usize);
    assert!(kept.iter().all(|(_, v)| v.as_deref() == Some(r#"{"N":900000}"#)), "{kept:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let row = rows(&client, "SHOW QUERIES").await.into_iter().find(|r| r[3].as_deref() == Some("KEPT"));
        let row = row.expect("the query is listed");
        assert_eq!(row[0].as_deref(), Some(query_id));
        let status = row[2].clone().unwrap_or_default();
        if status.contains("records lost") {
            assert!(status.contains(&format!("records in: {}", high - low)), "{status}");
            assert!(status.ends_with(&format!("records lost: {low}, partitions: 1)")), "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no loss reported: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.terminate();
}

/// A stream-table join created over topics that already hold data joins each stream record with
/// the table as of the record's time: a query's inputs are read in timestamp order (issue 18,
/// Kafka Streams' `PartitionGroup`), for a persistent query and for a push query alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_over_existing_data_reads_its_inputs_in_timestamp_order() {
    let server = Server::start(&[]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE STREAM orders (id INT KEY, amount INT) WITH (KAFKA_TOPIC='orders', VALUE_FORMAT='JSON', PARTITIONS=1);
             CREATE TABLE tiers (id INT PRIMARY KEY, tier STRING) WITH (KAFKA_TOPIC='tiers', VALUE_FORMAT='JSON', PARTITIONS=1);",
        )
        .await
        .expect("create");
    // Tier i at 1000 + 20 i, order i at 1010 + 20 i: every order falls between two tier changes.
    let kafka = producer(&server.kafka);
    const N: i32 = 2_000;
    for i in 0..N {
        let at = 1_000 + 20 * i64::from(i);
        produce(&kafka, "orders", &1i32.to_be_bytes(), &format!(r#"{{"AMOUNT":{i}}}"#), at + 10).await;
        produce(&kafka, "tiers", &1i32.to_be_bytes(), &format!(r#"{{"TIER":"t{i}"}}"#), at).await;
    }
    let expected: Vec<Option<String>> = (0..N).map(|i| Some(format!(r#"{{"AMOUNT":{i},"TIER":"t{i}"}}"#))).collect();
    client
        .batch_execute(
            "SET 'auto.offset.reset'='earliest';
             CREATE STREAM enriched AS SELECT o.id AS id, o.amount AS amount, t.tier AS tier
               FROM orders o LEFT JOIN tiers t ON o.id = t.id;",
        )
        .await
        .expect("csas");
    let joined: Vec<Option<String>> =
        consume(&server.kafka, "ENRICHED", N as usize).into_iter().map(|(_, v)| v).collect();
    assert_eq!(joined, expected);

    // The same join as a push query from the beginning.
    let pushed = rows(
        &client,
        &format!("SELECT o.amount, t.tier FROM orders o LEFT JOIN tiers t ON o.id = t.id EMIT CHANGES LIMIT {N}"),
    )
    .await;
    let pushed: Vec<String> = pushed
        .into_iter()
        .map(|r| format!("{}:{}", r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default()))
        .collect();
    let expected: Vec<String> = (0..N).map(|i| format!("{i}:t{i}")).collect();
    assert_eq!(pushed, expected);
    server.terminate();
}

/// Limits are configurable (`--limit`, `[limits]`), listed by SHOW PROPERTIES, and a pull query's
/// result past its row limit is refused with 54000 rather than collected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_limits_bound_pull_results_and_in_lists() {
    let server = Server::start(&["--limit", "pull.result.rows=2", "--limit", "eddy.limit.statement.list.values=3"]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE STREAM s (id INT KEY, v STRING) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);
             INSERT INTO s (id, v) VALUES (1, 'a');
             INSERT INTO s (id, v) VALUES (2, 'b');
             INSERT INTO s (id, v) VALUES (3, 'c');",
        )
        .await
        .expect("setup");
    let properties = rows(&client, "SHOW PROPERTIES").await;
    let value = |name: &str| properties.iter().find(|r| r[0].as_deref() == Some(name)).and_then(|r| r[2].clone());
    assert_eq!(value("eddy.limit.pull.result.rows").as_deref(), Some("2"));
    assert_eq!(value("eddy.limit.statement.list.values").as_deref(), Some("3"));
    assert_eq!(value("eddy.limit.statement.operators").as_deref(), Some("30000"));

    let err = client.simple_query("SELECT * FROM s").await.expect_err("three rows");
    let db = err.as_db_error().expect("db error");
    assert_eq!(db.code().code(), "54000", "{err}");
    assert!(db.message().contains("larger than 2 rows"), "{err}");
    assert_eq!(rows(&client, "SELECT * FROM s LIMIT 2").await.len(), 2);
    assert_eq!(rows(&client, "SELECT * FROM s WHERE id IN (1, 2, 9)").await.len(), 2);
    let err = client.simple_query("SELECT * FROM s WHERE id IN (1, 2, 3, 4)").await.expect_err("four values");
    assert_eq!(err.as_db_error().expect("db error").code().code(), "54000", "{err}");
    // The connection goes on.
    assert_eq!(rows(&client, "SELECT 1").await, vec![vec![Some("1".to_string())]]);
    server.terminate();
}

/// Waits until the metrics hold every line of `want`, or fails with the last scrape.
fn wait_for_metrics(server: &Server, want: &[&str]) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, text) = server.http_get("/metrics");
        assert_eq!(status, 200, "{text}");
        if want.iter().all(|w| text.lines().any(|l| l == *w)) {
            return text;
        }
        assert!(std::time::Instant::now() < deadline, "metrics never showed {want:?}:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The HTTP listener: Prometheus metrics per query and per server, ksqlDB's health check and info;
/// the processing log as a stream (its record's bytes only with --processing-log-include-rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_queries_statements_and_health() {
    let server = Server::start(&[]);
    let client = server.connect().await;
    client
        .batch_execute(
            "SET 'auto.offset.reset'='earliest';
             CREATE STREAM readings (id INT KEY, v INT) WITH (KAFKA_TOPIC='readings', VALUE_FORMAT='JSON', PARTITIONS=1);
             CREATE STREAM copied AS SELECT id, v FROM readings;",
        )
        .await
        .expect("create");
    let _ = client.simple_query("SELECT nope FROM copied EMIT CHANGES").await.expect_err("unknown column");
    // Two good records and one that is not JSON: skipped and counted.
    let kafka = producer(&server.kafka);
    produce(&kafka, "readings", &1i32.to_be_bytes(), r#"{"V":1}"#, 1_000).await;
    produce(&kafka, "readings", &2i32.to_be_bytes(), "not json", 2_000).await;
    produce(&kafka, "readings", &3i32.to_be_bytes(), r#"{"V":3}"#, 3_000).await;
    let text = wait_for_metrics(
        &server,
        &[
            r#"eddy_query_records_in_total{query_id="CSAS_COPIED_0"} 3"#,
            r#"eddy_query_records_out_total{query_id="CSAS_COPIED_0"} 2"#,
            r#"eddy_query_records_skipped_total{query_id="CSAS_COPIED_0",error_class="deserialization"} 1"#,
            r#"eddy_query_state{query_id="CSAS_COPIED_0",state="RUNNING"} 1"#,
            r#"eddy_statements_total{kind="create",outcome="ok"} 2"#,
            r#"eddy_statements_total{kind="select",outcome="error"} 1"#,
            "eddy_sessions 1",
            "eddy_streams 3",
        ],
    );
    // The processing log is a stream like any other: the record that was not JSON, where it was.
    let logged = rows(
        &client,
        "SELECT QUERY_ID, ERROR_CLASS, SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET, RECORD_B64 \
         FROM EDDY_PROCESSING_LOG WHERE ERROR_CLASS = 'deserialization' EMIT CHANGES LIMIT 1",
    )
    .await;
    let want = ["CSAS_COPIED_0", "deserialization", "readings", "0", "1"].map(|s| Some(s.to_string()));
    assert_eq!(logged, vec![want.into_iter().chain([None]).collect::<Vec<_>>()]);
    assert!(text.lines().any(|l| l.starts_with("process_resident_memory_bytes ")), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");

    let (status, health) = server.http_get("/healthcheck");
    assert_eq!(status, 200, "{health}");
    assert!(health.starts_with(r#"{"isHealthy":true"#), "{health}");
    let (status, info) = server.http_get("/info");
    assert_eq!(status, 200, "{info}");
    assert!(info.contains(r#""serverStatus":"RUNNING""#), "{info}");
    let (status, missing) = server.http_get("/nowhere");
    assert_eq!((status, missing.contains("40400")), (404, true), "{missing}");
    server.terminate();
}
