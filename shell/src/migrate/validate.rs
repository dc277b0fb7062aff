//! `eddy migrate validate`: every applied version still has its file, with the checksum it was applied with.

use super::files::MigrationFile;
use super::metadata::{History, MigrationState};

/// What does not match, one line per version; empty when every MIGRATED version's file is unchanged.
pub fn check_applied(files: &[MigrationFile], history: &History) -> Vec<String> {
    history
        .versions
        .values()
        .filter(|r| r.state == MigrationState::Migrated)
        .filter_map(|r| match files.iter().find(|f| f.version == r.version) {
            None => Some(format!("version {} ({}) was applied but its file is missing", r.version, r.name)),
            Some(f) if f.checksum != r.checksum => Some(format!(
                "{} changed after it was applied (checksum {} recorded, {} now)",
                f.file_name(),
                short(&r.checksum),
                short(&f.checksum)
            )),
            Some(_) => None,
        })
        .collect()
}

/// The first 12 hex digits of a checksum, as listings show it.
pub fn short(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}
