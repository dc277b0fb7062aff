//! Memory scenarios: the RSS of an idle server, and the state a running COUNT keeps per key.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eddy_runtime::Record;

use crate::engine_only::plan;
use crate::heap::live_bytes;
use crate::report::{rss_kb, Measurement, Stopwatch};

/// How long the idle server's RSS must hold still to be read.
const SETTLE: Duration = Duration::from_secs(2);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// Starts the `eddy-server` binary built next to this one on its embedded Kafka, waits until it takes
/// connections and its RSS holds still, and reads the RSS.
pub fn idle_rss() -> Result<Measurement, String> {
    let exe = std::env::current_exe().map_err(err)?;
    let server = exe.with_file_name("eddy-server");
    if !server.exists() {
        return Err(format!(
            "idle-rss needs {}: build it with `cargo build --release -p eddy-server` (or without --release for a debug run)",
            server.display()
        ));
    }
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(err)?.port();
    let mut child = Command::new(&server)
        .args(["--pg-listen", &format!("127.0.0.1:{port}")])
        .env("EDDY_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", server.display()))?;
    let result = (|| {
        let watch = Stopwatch::start();
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("eddy-server did not listen within 60 s".to_string());
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("eddy-server exited: {status}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Read once the RSS has not moved by more than 1 % for SETTLE.
        let (mut last, mut since) = (rss_kb(child.id())?, Instant::now());
        while since.elapsed() < SETTLE {
            std::thread::sleep(Duration::from_millis(100));
            let now = rss_kb(child.id())?;
            if now.abs_diff(last) * 100 > last {
                (last, since) = (now, Instant::now());
            }
            if Instant::now() > deadline {
                break;
            }
        }
        let (wall, _) = watch.stop();
        Ok(Measurement {
            name: "idle-rss".into(),
            events: 0,
            bytes: 0,
            outputs: 0,
            wall,
            cpu: Duration::ZERO,
            latency: None,
            broker: "embedded (mock), in the server".into(),
            note: Some(format!("eddy-server RSS when idle: {} (target: under 50 MB)", mb(last))),
        })
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// A running `COUNT(*) ... GROUP BY id` over `keys` distinct keys: the heap it keeps, per key.
pub fn state_per_key(keys: u64) -> Result<Measurement, String> {
    let mut pipeline = plan(
        "CREATE STREAM k (id BIGINT) WITH (KAFKA_TOPIC='k', VALUE_FORMAT='JSON', PARTITIONS=1);",
        "CREATE TABLE counts AS SELECT id, COUNT(*) AS n FROM k GROUP BY id;",
    )?;
    let record = |i: u64| Record {
        partition: 0,
        offset: i as i64,
        timestamp: 1,
        key: None,
        value: Some(format!("{{\"ID\":{i}}}").into_bytes()),
        headers: Vec::new(),
    };
    // Warm the allocator and the pipeline up with keys that stay in the state, then measure the rest.
    let warm = (keys / 100).max(1);
    let batch = |from: u64, to: u64| (from..to).map(record).collect::<Vec<_>>();
    pipeline.process("k", &batch(0, warm)).map_err(err)?;
    let before = live_bytes();
    let watch = Stopwatch::start();
    let mut outputs = 0;
    let mut next = warm;
    while next < keys {
        let end = (next + 1024).min(keys);
        outputs += pipeline.process("k", &batch(next, end)).map_err(err)?.len() as u64;
        next = end;
    }
    let (wall, cpu) = watch.stop();
    let after = live_bytes();
    let measured = keys - warm;
    if outputs != measured {
        return Err(format!("state-per-key: {outputs} updates for {measured} new keys"));
    }
    let kept = after.saturating_sub(before);
    let per_key = kept as f64 / measured.max(1) as f64;
    Ok(Measurement {
        name: "engine-state-per-key".into(),
        events: measured,
        bytes: 0,
        outputs,
        wall,
        cpu,
        latency: None,
        broker: "none (generator -> discard)".into(),
        note: Some(format!(
            "{measured} distinct keys of COUNT(*) GROUP BY a BIGINT: live heap +{:.1} MB = {per_key:.0} bytes per key (target: under 200)",
            kept as f64 / 1e6
        )),
    })
}
