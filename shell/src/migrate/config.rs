//! `eddy-migrations.toml`: where the server is and what the migrations metadata is called.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ShellError;

/// The configuration file's name inside a project directory.
pub const CONFIG_FILE: &str = "eddy-migrations.toml";
/// The folder of migration files inside a project directory.
pub const MIGRATIONS_DIR: &str = "migrations";

/// A project's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationConfig {
    /// The server: `postgres://[user[:password]@]host[:port]`.
    #[serde(default = "default_server")]
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The stream every migration event is appended to.
    #[serde(default = "default_events_stream")]
    pub events_stream: String,
    #[serde(default = "default_events_topic")]
    pub events_topic: String,
    /// The table of each version's latest state (and `CURRENT`), materialized from the stream.
    #[serde(default = "default_versions_table")]
    pub versions_table: String,
    #[serde(default = "default_versions_topic")]
    pub versions_topic: String,
}

fn default_server() -> String {
    "postgres://127.0.0.1:5433".into()
}
fn default_events_stream() -> String {
    "MIGRATION_EVENTS".into()
}
fn default_events_topic() -> String {
    "eddy_MIGRATION_EVENTS".into()
}
fn default_versions_table() -> String {
    "MIGRATION_SCHEMA_VERSIONS".into()
}
fn default_versions_topic() -> String {
    "eddy_MIGRATION_SCHEMA_VERSIONS".into()
}

impl Default for MigrationConfig {
    fn default() -> Self {
        Self {
            server: default_server(),
            user: None,
            password: None,
            events_stream: default_events_stream(),
            events_topic: default_events_topic(),
            versions_table: default_versions_table(),
            versions_topic: default_versions_topic(),
        }
    }
}

/// A project directory and its configuration.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub config: MigrationConfig,
}

impl Project {
    /// Reads `DIR/eddy-migrations.toml`.
    pub fn load(dir: &Path) -> Result<Self, ShellError> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ShellError::Usage(format!(
                "{} not found: run `eddy migrate new-project {}` first, or pass the project with --project-dir",
                path.display(),
                dir.display()
            )),
            _ => ShellError::io(path.display().to_string(), e),
        })?;
        let config: MigrationConfig =
            toml::from_str(&text).map_err(|e| ShellError::Usage(format!("{}: {e}", path.display())))?;
        for (what, name) in [("events_stream", &config.events_stream), ("versions_table", &config.versions_table)] {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ShellError::Usage(format!(
                    "{}: {what} must be a plain identifier (letters, digits, _), not '{name}'",
                    path.display()
                )));
            }
        }
        Ok(Self { dir: dir.to_path_buf(), config })
    }

    /// Where the migration files are.
    pub fn migrations_dir(&self) -> PathBuf {
        self.dir.join(MIGRATIONS_DIR)
    }
}

/// The text of a new project's configuration file.
pub fn initial_config_text(server: &str) -> String {
    let defaults = MigrationConfig { server: server.to_string(), ..MigrationConfig::default() };
    let body = toml::to_string(&defaults).unwrap_or_default();
    format!(
        "# eddy migrate: the server to migrate and the names of the migrations metadata.\n\
         # user = \"eddy\"\n# password = \"...\"\n{body}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_file_reads_back_as_the_defaults() {
        let text = initial_config_text("postgres://db:6000");
        let config: MigrationConfig = toml::from_str(&text).expect("parses");
        assert_eq!(config, MigrationConfig { server: "postgres://db:6000".into(), ..MigrationConfig::default() });
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<MigrationConfig>("sever = 'x'").is_err());
    }
}
