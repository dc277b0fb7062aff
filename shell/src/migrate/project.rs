//! `eddy migrate new-project DIR` and `eddy migrate create DESCRIPTION`: the files of a project.

use std::path::{Path, PathBuf};

use super::config::{initial_config_text, Project, CONFIG_FILE, MIGRATIONS_DIR};
use super::files::{self, file_name};
use crate::error::ShellError;

/// Creates `DIR/eddy-migrations.toml` and `DIR/migrations/`; refuses to overwrite a project.
pub fn new_project(dir: &Path, server: &str) -> Result<PathBuf, ShellError> {
    let config = dir.join(CONFIG_FILE);
    if config.exists() {
        return Err(ShellError::Usage(format!(
            "{} already exists: {} is a project already",
            config.display(),
            dir.display()
        )));
    }
    let migrations = dir.join(MIGRATIONS_DIR);
    std::fs::create_dir_all(&migrations).map_err(|e| ShellError::io(migrations.display().to_string(), e))?;
    std::fs::write(&config, initial_config_text(server))
        .map_err(|e| ShellError::io(config.display().to_string(), e))?;
    Ok(config)
}

/// Writes the next version's empty migration file (or the given version's) and returns its path.
pub fn create(project: &Project, description: &str, version: Option<u32>) -> Result<PathBuf, ShellError> {
    let description = description.trim();
    if description.is_empty()
        || !description.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '_' || c == '-')
    {
        return Err(ShellError::Usage(format!(
            "'{description}' cannot name a migration: use letters, digits, spaces, '_' and '-'"
        )));
    }
    let dir = project.migrations_dir();
    std::fs::create_dir_all(&dir).map_err(|e| ShellError::io(dir.display().to_string(), e))?;
    let existing = files::list(&dir)?;
    let version = match version {
        Some(0) => return Err(ShellError::Usage("versions start at 1".into())),
        Some(v) => match existing.iter().find(|f| f.version == v) {
            Some(f) => return Err(ShellError::Usage(format!("version {v} exists already: {}", f.file_name()))),
            None => v,
        },
        None => existing.last().map(|f| f.version + 1).unwrap_or(1),
    };
    let path = dir.join(file_name(version, description));
    let header = format!(
        "-- Migration {version}: {description}\n-- Statements end with ';'. Applied with `eddy migrate apply`.\n\n"
    );
    std::fs::write(&path, header).map_err(|e| ShellError::io(path.display().to_string(), e))?;
    Ok(path)
}
