//! Replays the fuzz targets' committed corpus and every input that once crashed one
//! (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) on the ordinary test build: none may
//! panic or hang.

use std::path::{Path, PathBuf};

/// Every file of the target's corpus and regressions, in name order.
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()));
    }
    files.sort();
    assert!(!files.is_empty(), "no corpus for fuzz target {target}");
    files
}

fn replay(target: &str, body: fn(&[u8])) {
    for path in inputs(target) {
        let data = std::fs::read(&path).expect("corpus file");
        eprintln!("{}", path.display());
        let before = eddy_tests::fuzz::panics();
        body(&data);
        assert_eq!(eddy_tests::fuzz::panics(), before, "{} panicked (in some thread)", path.display());
    }
}

#[test]
fn sql_statements_corpus() {
    replay("sql_statements", eddy_tests::fuzz::sql_statements);
}

#[test]
fn record_decoders_corpus() {
    replay("record_decoders", eddy_tests::fuzz::record_decoders);
}

#[test]
fn pg_messages_corpus() {
    replay("pg_messages", eddy_tests::fuzz::pg_messages);
}
