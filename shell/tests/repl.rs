//! The real `eddy` binary in a pseudo-terminal against a real server: multi-line input, tables, a
//! push query printing rows live and cancelled with Ctrl-C, completion, and history across runs.

mod support;

use std::process::Command;
use std::time::Duration;

use rexpect::reader::Options;
use rexpect::session::{spawn_with_options, PtySession};
use support::{first_column, server, temp_dir, wait_until};

fn shell(home: &std::path::Path) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eddy"));
    cmd.args(["--server", server()]).env("HOME", home).env("TERM", "xterm").env_remove("EDDY_HISTORY");
    let mut p = spawn_with_options(cmd, Options::new().timeout_ms(Some(30_000)).strip_ansi_escape_codes(true))
        .expect("spawn eddy");
    p.exp_string("Connected to").expect("banner");
    p.exp_string("eddy> ").expect("prompt");
    p
}

#[test]
fn interactive_session() {
    let home = temp_dir("repl");
    let mut p = shell(&home);

    // A statement over two lines runs when its semicolon arrives.
    p.send_line("CREATE STREAM repl_pv (id INT KEY, url STRING)").expect("send");
    p.send_line("  WITH (KAFKA_TOPIC='repl_pv', VALUE_FORMAT='JSON', PARTITIONS=1);").expect("send");
    p.exp_string("Stream created").expect("created");
    // Input is typed once the prompt is back (the line editor flushes what came before it).
    p.exp_string("eddy> ").expect("prompt");
    p.send_line("INSERT INTO repl_pv (id, url) VALUES (1, 'first.example');").expect("send");
    p.exp_string("eddy> ").expect("prompt");
    p.send_line("INSERT INTO repl_pv (id, url) VALUES (2, NULL);").expect("send");
    p.exp_string("eddy> ").expect("prompt");

    // A table result: aligned, with the column types under the names.
    p.send_line("DESCRIBE repl_pv;").expect("send");
    p.exp_string("Field  | Type").expect("header");
    p.exp_string("STRING | STRING").expect("type line");
    p.exp_string("ID     | INTEGER (key)").expect("row");
    p.exp_string("(2 rows)").expect("footer");
    p.exp_string("eddy> ").expect("prompt");

    // Tab completes a stream name the shell fetched from the server.
    p.send("DESCRIBE repl_p\t").expect("send");
    p.flush().expect("flush");
    p.exp_string("REPL_PV").expect("completed");
    p.send_line(";").expect("send");
    p.exp_string("URL    | STRING").expect("described the completed name");
    p.exp_string("eddy> ").expect("prompt");

    // A push query prints its rows while it runs; Ctrl-C cancels it and the server frees it.
    p.send_line("SET 'auto.offset.reset'='earliest';").expect("send");
    p.exp_string("eddy> ").expect("prompt");
    p.send_line("SELECT * FROM repl_pv EMIT CHANGES;").expect("send");
    p.exp_string("first.example").expect("first row, live");
    p.exp_string("<null>").expect("second row, NULL shown");
    let running = || first_column("SHOW QUERIES").iter().any(|id| id.starts_with("transient_"));
    assert!(running(), "the push query is listed while it runs");
    p.send_control('c').expect("ctrl-c");
    p.exp_string("(2 rows, query cancelled)").expect("cancelled");
    p.exp_string("eddy> ").expect("prompt after cancel");
    wait_until("the server ends the cancelled push query", Duration::from_secs(30), || !running());

    // Ctrl-C on an empty line does nothing; the shell still answers.
    p.send_control('c').expect("ctrl-c");
    p.exp_string("eddy> ").expect("prompt after ctrl-c");
    p.send_line("SHOW STREAMS;").expect("send");
    p.exp_string("REPL_PV").expect("still alive");
    p.exp_string("eddy> ").expect("prompt");
    p.send_line("exit").expect("exit");
    p.exp_eof().expect("exits");

    // History survives: a new shell lists the statements typed in the last one.
    let saved = std::fs::read_to_string(home.join(".eddy_history")).expect("history file");
    assert!(saved.contains("SHOW STREAMS;"), "{saved}");
    let mut p = shell(&home);
    p.send_line("history").expect("send");
    p.exp_string("DESCRIBE repl_pv;").expect("old statement listed");
    p.exp_string("eddy> ").expect("prompt");
    p.send_control('d').expect("ctrl-d");
    p.exp_eof().expect("ctrl-d exits");
}

#[test]
fn scripts_stop_at_the_first_failing_statement() {
    let dir = temp_dir("script");
    let script = dir.join("setup.sql");
    std::fs::write(
        &script,
        "DEFINE topic = 'script_pv';\nCREATE STREAM script_pv (id INT KEY, v STRING)\n  WITH (KAFKA_TOPIC='${topic}', VALUE_FORMAT='JSON', PARTITIONS=1);\n\nSELECT nope FROM script_pv EMIT CHANGES;\nCREATE STREAM never_created (id INT KEY) WITH (KAFKA_TOPIC='never', VALUE_FORMAT='JSON', PARTITIONS=1);\n",
    )
    .expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["--server", server(), "-f"])
        .arg(&script)
        .output()
        .expect("run eddy -f");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("setup.sql, line 5: SELECT nope FROM script_pv EMIT CHANGES"), "{stderr}");
    assert!(stderr.contains("cannot be resolved"), "{stderr}");
    let streams = first_column("SHOW STREAMS");
    assert!(streams.contains(&"SCRIPT_PV".to_string()), "{streams:?}");
    assert!(!streams.contains(&"NEVER_CREATED".to_string()), "{streams:?}");

    // -e with JSON output: one object per row, nothing else on stdout.
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["--server", server(), "--output", "json", "-e", "SHOW STREAMS; SPOOL OFF"])
        .output()
        .expect("run eddy -e");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.lines().any(|l| l.contains(r#""Stream Name":"SCRIPT_PV""#)), "{stdout}");
    assert!(stdout.lines().all(|l| l.starts_with('{')), "{stdout}");
}

#[test]
fn an_unreachable_server_is_a_message_not_a_crash() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    drop(listener);
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["--server", &address, "-e", "SHOW STREAMS;"])
        .output()
        .expect("run eddy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains(&format!("Cannot connect to the server at {address}")), "{stderr}");
}

#[test]
fn a_lost_connection_is_reported_and_reopened() {
    let proxy = support::Proxy::start();
    let home = temp_dir("reconnect");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eddy"));
    cmd.args(["--server", &proxy.address]).env("HOME", &home).env("TERM", "xterm");
    let mut p = spawn_with_options(cmd, Options::new().timeout_ms(Some(30_000)).strip_ansi_escape_codes(true))
        .expect("spawn eddy");
    p.exp_string("eddy> ").expect("prompt");
    p.send_line(
        "CREATE STREAM lost_pv (id INT KEY, v STRING) WITH (KAFKA_TOPIC='lost_pv', VALUE_FORMAT='JSON', PARTITIONS=1);",
    )
    .expect("send");
    p.exp_string("Stream created").expect("created");
    p.exp_string("eddy> ").expect("prompt");

    // The server goes away in the middle of a push query: a message, then the prompt.
    p.send_line("SELECT * FROM lost_pv EMIT CHANGES;").expect("send");
    p.exp_string("-----").expect("header of the live table");
    proxy.cut();
    p.exp_string("was lost").expect("lost message");
    p.exp_string("the shell reconnects on the next statement").expect("hint");
    p.exp_string("eddy> ").expect("prompt");

    // The next statement reconnects.
    p.send_line("SHOW STREAMS;").expect("send");
    p.exp_string("Reconnected to").expect("reconnected");
    p.exp_string("LOST_PV").expect("statement ran");
    p.exp_string("eddy> ").expect("prompt");
    p.send_line("exit").expect("exit");
    p.exp_eof().expect("exits");
}
