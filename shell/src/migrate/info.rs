//! `eddy migrate info`: one row per version, from the files and the server's metadata.

use super::files::MigrationFile;
use super::metadata::{History, MigrationState};
use super::validate::short;
use crate::render::{self, Column};

/// The report: the current version, then a table of versions.
pub fn report(files: &[MigrationFile], history: &History) -> String {
    let current = match &history.current {
        Some(c) => format!("Current migration version: {} ({})", c.version, c.state.as_str()),
        None => "Current migration version: <none>".to_string(),
    };
    let mut versions: Vec<u32> = files.iter().map(|f| f.version).chain(history.versions.keys().copied()).collect();
    versions.sort_unstable();
    versions.dedup();
    let rows: Vec<Vec<Option<String>>> = versions
        .into_iter()
        .map(|v| {
            let file = files.iter().find(|f| f.version == v);
            let record = history.versions.get(&v);
            let state = record.map(|r| r.state).unwrap_or(MigrationState::Pending);
            let checksum = match (file, record) {
                (Some(f), Some(r)) if r.checksum != f.checksum && state == MigrationState::Migrated => {
                    format!("{} (file changed)", short(&r.checksum))
                }
                (_, Some(r)) => short(&r.checksum).to_string(),
                (Some(f), None) => short(&f.checksum).to_string(),
                (None, None) => String::new(),
            };
            vec![
                Some(v.to_string()),
                Some(
                    file.map(|f| f.name.clone())
                        .or_else(|| record.map(|r| format!("{} (file missing)", r.name)))
                        .unwrap_or_default(),
                ),
                Some(state.as_str().to_string()),
                Some(checksum),
                Some(record.and_then(|r| r.started_on.clone()).unwrap_or_default()),
                Some(record.and_then(|r| r.completed_on.clone()).unwrap_or_default()),
                Some(record.and_then(|r| r.error_reason.clone()).unwrap_or_default()),
            ]
        })
        .collect();
    let columns: Vec<Column> = ["Version", "Name", "State", "Checksum", "Started On", "Completed On", "Error"]
        .into_iter()
        .map(|n| Column { name: n.to_string(), ty: None })
        .collect();
    format!("{current}\n{}", render::table(&columns, &rows, None))
}
