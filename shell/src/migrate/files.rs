//! Migration files: `migrations/V000001__create_users.sql`, applied in version order; each file's
//! checksum (SHA-256 of its bytes) is recorded when it is applied, so later edits are detected.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::ShellError;

/// One migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    pub version: u32,
    /// The description, underscores read as spaces.
    pub name: String,
    pub path: PathBuf,
    pub checksum: String,
}

impl MigrationFile {
    /// The file's name, for messages.
    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// The file's current text.
    pub fn read(&self) -> Result<String, ShellError> {
        std::fs::read_to_string(&self.path).map_err(|e| ShellError::io(self.path.display().to_string(), e))
    }
}

/// The file name of a version: `V000001__create_users.sql`.
pub fn file_name(version: u32, description: &str) -> String {
    format!("V{version:06}__{}.sql", description.trim().replace(' ', "_"))
}

/// Reads `V<digits>__<description>.sql`; None for any other name.
fn parse_name(file_name: &str) -> Option<(u32, String)> {
    let stem = file_name.strip_suffix(".sql")?.strip_prefix('V')?;
    let (digits, description) = stem.split_once("__")?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || description.is_empty() {
        return None;
    }
    Some((digits.parse().ok()?, description.replace('_', " ")))
}

/// SHA-256 of a file's bytes, in hex.
pub fn checksum(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The migration files of `dir` in version order. Other `.sql` files, version 0 and two files of one
/// version are errors, so that nothing is silently skipped.
pub fn list(dir: &Path) -> Result<Vec<MigrationFile>, ShellError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ShellError::io(dir.display().to_string(), e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ShellError::io(dir.display().to_string(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sql") {
            continue;
        }
        let Some((version, description)) = parse_name(&name) else {
            return Err(ShellError::Usage(format!(
                "{}: not a migration file name; expected V<version>__<description>.sql, e.g. {}",
                entry.path().display(),
                file_name(1, "create_users")
            )));
        };
        if version == 0 {
            return Err(ShellError::Usage(format!("{}: versions start at 1", entry.path().display())));
        }
        let bytes = std::fs::read(entry.path()).map_err(|e| ShellError::io(entry.path().display().to_string(), e))?;
        files.push(MigrationFile { version, name: description, path: entry.path(), checksum: checksum(&bytes) });
    }
    files.sort_by_key(|f| f.version);
    if let Some(pair) = files.windows(2).find(|w| w[0].version == w[1].version) {
        return Err(ShellError::Usage(format!(
            "two migration files have version {}: {} and {}",
            pair[0].version,
            pair[0].file_name(),
            pair[1].file_name()
        )));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        assert_eq!(file_name(7, "add orders table"), "V000007__add_orders_table.sql");
        assert_eq!(parse_name("V000007__add_orders_table.sql"), Some((7, "add orders table".into())));
        assert_eq!(parse_name("V12__x.sql"), Some((12, "x".into())));
        for bad in ["V000001.sql", "v000001__x.sql", "V__x.sql", "V1x__y.sql", "V000001__.sql", "notes.sql"] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn checksums_are_sha256() {
        assert_eq!(checksum(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
