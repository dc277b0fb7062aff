//! `eddy migrate` end to end: the real binary against a real server (embedded Kafka) in this process.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{first_column, server, temp_dir, wait_until};

/// Runs `eddy migrate -d DIR ARGS...`; returns the exit code, stdout and stderr.
fn migrate(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .arg("migrate")
        .arg("--project-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run eddy migrate");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// Runs a command that must succeed and returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = migrate(dir, args);
    assert_eq!(code, 0, "eddy migrate {args:?} failed:\n{out}\n{err}");
    out
}

/// A project whose metadata has its own names (tests share one server), with `files` as migrations.
fn project(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = temp_dir(&format!("migrate-{name}"));
    let dir = root.join("project");
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["migrate", "new-project"])
        .arg(&dir)
        .args(["--server", &format!("postgres://{}", server())])
        .output()
        .expect("run eddy migrate new-project");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config_path = dir.join("eddy-migrations.toml");
    let config = std::fs::read_to_string(&config_path).expect("config");
    let upper = name.to_ascii_uppercase();
    let config = config
        .replace("\"MIGRATION_EVENTS\"", &format!("\"{upper}_EVENTS\""))
        .replace("\"MIGRATION_SCHEMA_VERSIONS\"", &format!("\"{upper}_VERSIONS\""))
        .replace("eddy_MIGRATION_EVENTS", &format!("{name}_events"))
        .replace("eddy_MIGRATION_SCHEMA_VERSIONS", &format!("{name}_versions"));
    std::fs::write(&config_path, config).expect("write config");
    for (description, sql) in files {
        let created = ok(&dir, &["create", description]);
        let path = created.trim().strip_prefix("Created ").expect("created path").to_string();
        let mut text = std::fs::read_to_string(&path).expect("new file");
        text.push_str(sql);
        std::fs::write(&path, text).expect("write migration");
    }
    dir
}

/// The (version, state) pairs of `info`'s table.
fn states(info: &str) -> Vec<(String, String)> {
    info.lines()
        .filter(|l| l.starts_with(' '))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() > 3 && cells[0].chars().all(|c| c.is_ascii_digit()))
                .then(|| (cells[0].to_string(), cells[2].to_string()))
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(v, s)| (v.to_string(), s.to_string())).collect()
}

fn names(kind: &str) -> Vec<String> {
    first_column(&format!("SHOW {kind};"))
}

#[test]
fn three_migrations_apply_in_order_with_dry_run_info_and_validate() {
    let dir = project(
        "m_order",
        &[
            (
                "create users",
                "CREATE STREAM m_order_users (id STRING KEY, name STRING)\n  WITH (KAFKA_TOPIC='m_order_users', VALUE_FORMAT='JSON', PARTITIONS=1);\n",
            ),
            (
                "add visits",
                "DEFINE topic = 'm_order_visits';\nCREATE STREAM m_order_visits (id STRING KEY, page STRING) WITH (KAFKA_TOPIC='${topic}', VALUE_FORMAT='JSON', PARTITIONS=1);\n",
            ),
            (
                "seed",
                "INSERT INTO m_order_users (id, name) VALUES ('u1', 'Ann');\nINSERT INTO m_order_users (id, name) VALUES ('u2', 'Bob');\n",
            ),
        ],
    );
    // Before initialize-metadata, commands say what to do.
    let (code, _, err) = migrate(&dir, &["info"]);
    assert_eq!(code, 1);
    assert!(err.contains("initialize-metadata"), "{err}");

    let init = ok(&dir, &["initialize-metadata"]);
    assert!(
        init.contains("Created stream M_ORDER_EVENTS") && init.contains("Created table M_ORDER_VERSIONS"),
        "{init}"
    );
    assert!(ok(&dir, &["initialize-metadata"]).contains("already exists"));
    let info = ok(&dir, &["info"]);
    assert_eq!(states(&info), pairs(&[("1", "PENDING"), ("2", "PENDING"), ("3", "PENDING")]), "{info}");

    // --dry-run prints the statements and changes nothing.
    let dry = ok(&dir, &["apply", "--all", "--dry-run"]);
    assert!(
        dry.contains("Would apply V000001__create_users.sql") && dry.contains("line 4: INSERT INTO m_order_users"),
        "{dry}"
    );
    assert!(!names("STREAMS").contains(&"M_ORDER_USERS".to_string()));
    assert!(first_column("SELECT VERSION FROM M_ORDER_EVENTS;").is_empty());
    assert_eq!(states(&ok(&dir, &["info"])), pairs(&[("1", "PENDING"), ("2", "PENDING"), ("3", "PENDING")]));

    // --next applies one; --all the rest, in order.
    let next = ok(&dir, &["apply", "--next"]);
    assert!(next.contains("Applying V000001__create_users.sql") && !next.contains("V000002"), "{next}");
    assert_eq!(states(&ok(&dir, &["info"])), pairs(&[("1", "MIGRATED"), ("2", "PENDING"), ("3", "PENDING")]));
    let all = ok(&dir, &["apply", "--all"]);
    let (two, three) = (all.find("V000002").expect("applies 2"), all.find("V000003").expect("applies 3"));
    assert!(two < three, "{all}");
    let info = ok(&dir, &["info"]);
    assert!(info.starts_with("Current migration version: 3 (MIGRATED)"), "{info}");
    assert_eq!(states(&info), pairs(&[("1", "MIGRATED"), ("2", "MIGRATED"), ("3", "MIGRATED")]), "{info}");
    assert!(names("STREAMS").contains(&"M_ORDER_VISITS".to_string()), "DEFINE substituted the topic");
    let mut users = first_column("SELECT name FROM m_order_users;");
    users.sort();
    assert_eq!(users, vec!["Ann", "Bob"]);

    // Applying again is a no-op; validate passes.
    assert!(ok(&dir, &["apply", "--all"]).contains("Nothing to apply"));
    assert_eq!(first_column("SELECT name FROM m_order_users;").len(), 2);
    assert!(ok(&dir, &["validate"]).contains("3 applied migration file(s) are unchanged"));

    // The versions table catches up with the events (a pull query on a materialized table).
    wait_until("the versions table shows version 3", Duration::from_secs(30), || {
        first_column("SELECT VERSION FROM M_ORDER_VERSIONS WHERE VERSION_KEY = 'CURRENT';") == vec!["3"]
    });

    let destroyed = ok(&dir, &["destroy-metadata"]);
    assert!(
        destroyed.contains("Dropped table M_ORDER_VERSIONS") && destroyed.contains("Dropped stream M_ORDER_EVENTS"),
        "{destroyed}"
    );
    assert!(!names("STREAMS").contains(&"M_ORDER_EVENTS".to_string()));
    assert!(!names("TABLES").contains(&"M_ORDER_VERSIONS".to_string()));
}

#[test]
fn a_failing_migration_is_recorded_as_error_and_not_applied_twice() {
    let dir = project(
        "m_fail",
        &[
            (
                "create events",
                "CREATE STREAM m_fail_clicks (id STRING KEY, kind STRING) WITH (KAFKA_TOPIC='m_fail_clicks', VALUE_FORMAT='JSON', PARTITIONS=1);\n",
            ),
            (
                "seed and derive",
                "INSERT INTO m_fail_clicks (id, kind) VALUES ('e1', 'click');\nCREATE STREAM m_fail_derived AS SELECT id, nope FROM m_fail_clicks;\n",
            ),
            ("later", "INSERT INTO m_fail_clicks (id, kind) VALUES ('e2', 'view');\n"),
        ],
    );
    ok(&dir, &["initialize-metadata"]);
    let (code, out, err) = migrate(&dir, &["apply", "--all"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("V000002__seed_and_derive.sql failed at line 5:"), "{err}");
    assert!(err.contains("NOPE"), "{err}");
    assert!(!out.contains("V000003"), "later migrations do not run: {out}");
    let info = ok(&dir, &["info"]);
    assert!(info.starts_with("Current migration version: 2 (ERROR)"), "{info}");
    assert_eq!(states(&info), pairs(&[("1", "MIGRATED"), ("2", "ERROR"), ("3", "PENDING")]), "{info}");
    assert!(info.contains("line 5: SELECT column 'NOPE' cannot be resolved."), "{info}");
    assert_eq!(first_column("SELECT kind FROM m_fail_clicks;"), vec!["click"]);

    // The unchanged file is not run again: its first statement would insert e1 a second time.
    let (code, _, err) = migrate(&dir, &["apply", "--all"]);
    assert_eq!(code, 1);
    assert!(err.contains("not run again"), "{err}");
    assert_eq!(first_column("SELECT kind FROM m_fail_clicks;"), vec!["click"]);
    assert_eq!(states(&ok(&dir, &["info"]))[1].1, "ERROR");

    // Once fixed, it runs (and the ones after it).
    let fixed = dir.join("migrations/V000002__seed_and_derive.sql");
    std::fs::write(&fixed, "CREATE STREAM m_fail_derived AS SELECT id, kind FROM m_fail_clicks;\n").expect("fix");
    ok(&dir, &["apply", "--all"]);
    assert_eq!(states(&ok(&dir, &["info"])), pairs(&[("1", "MIGRATED"), ("2", "MIGRATED"), ("3", "MIGRATED")]));
    let mut kinds = first_column("SELECT kind FROM m_fail_clicks;");
    kinds.sort();
    assert_eq!(kinds, vec!["click", "view"]);
    // The derived stream started at the end of its input when it was created, and e2 came after.
    wait_until("the derived stream gets e2", Duration::from_secs(30), || {
        first_column("SELECT kind FROM m_fail_derived;") == vec!["view"]
    });
}

#[test]
fn validate_detects_a_changed_file_and_apply_refuses() {
    let dir = project(
        "m_valid",
        &[
            (
                "one",
                "CREATE STREAM m_valid_a (id STRING KEY, v INT) WITH (KAFKA_TOPIC='m_valid_a', VALUE_FORMAT='JSON', PARTITIONS=1);\n",
            ),
            ("two", "INSERT INTO m_valid_a (id, v) VALUES ('a', 1);\n"),
        ],
    );
    ok(&dir, &["initialize-metadata"]);
    ok(&dir, &["apply", "--version", "1"]);
    assert!(ok(&dir, &["validate"]).contains("1 applied migration file(s) are unchanged"));
    let one = dir.join("migrations/V000001__one.sql");
    let mut text = std::fs::read_to_string(&one).expect("read");
    text.push_str("-- edited after it was applied\n");
    std::fs::write(&one, text).expect("edit");

    let (code, _, err) = migrate(&dir, &["validate"]);
    assert_eq!(code, 1);
    assert!(err.contains("V000001__one.sql changed after it was applied"), "{err}");
    let (code, _, err) = migrate(&dir, &["apply", "--all"]);
    assert_eq!(code, 1);
    assert!(err.contains("nothing was applied"), "{err}");
    assert!(ok(&dir, &["info"]).contains("(file changed)"));
    assert!(first_column("SELECT v FROM m_valid_a;").is_empty(), "version 2 did not run");
}

#[test]
fn an_apply_in_progress_blocks_another() {
    let dir = project(
        "m_busy",
        &[(
            "one",
            "CREATE STREAM m_busy_a (id STRING KEY, v INT) WITH (KAFKA_TOPIC='m_busy_a', VALUE_FORMAT='JSON', PARTITIONS=1);\n",
        )],
    );
    ok(&dir, &["initialize-metadata"]);
    // What another apply writes when it starts version 1.
    for key in ["1", "CURRENT"] {
        first_column(&format!(
            "INSERT INTO M_BUSY_EVENTS (VERSION_KEY, VERSION, NAME, STATE, CHECKSUM, STARTED_ON, PREVIOUS) \
             VALUES ('{key}', '1', 'one', 'RUNNING', 'x', '2026-01-01 00:00:00.000 UTC', '<none>');"
        ));
    }
    let (code, _, err) = migrate(&dir, &["apply", "--all"]);
    assert_eq!(code, 1);
    assert!(err.contains("RUNNING since 2026-01-01"), "{err}");
    assert!(!names("STREAMS").contains(&"M_BUSY_A".to_string()));

    // Once the interrupted apply is known to have failed, resolving it lets apply go on.
    assert!(ok(&dir, &["resolve", "--version", "1", "--state", "error"]).contains("now ERROR"));
    ok(&dir, &["apply", "--all"]);
    assert_eq!(states(&ok(&dir, &["info"])), pairs(&[("1", "MIGRATED")]));
    assert!(names("STREAMS").contains(&"M_BUSY_A".to_string()));
    let (code, _, err) = migrate(&dir, &["resolve", "--version", "1", "--state", "error"]);
    assert_eq!(code, 1);
    assert!(err.contains("only RUNNING or ERROR"), "{err}");
}

#[test]
fn create_numbers_files_and_refuses_bad_names() {
    let dir = project("m_files", &[("first", ""), ("second one", "")]);
    let files: Vec<String> = {
        let mut f: Vec<String> = std::fs::read_dir(dir.join("migrations"))
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        f.sort();
        f
    };
    assert_eq!(files, vec!["V000001__first.sql", "V000002__second_one.sql"]);
    let (code, _, err) = migrate(&dir, &["create", "drop; table"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot name a migration"), "{err}");
    let (code, _, err) = migrate(&dir, &["new-project", dir.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
}
