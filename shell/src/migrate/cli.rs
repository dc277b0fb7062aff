//! Arguments of `eddy migrate`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::apply::Selection;

/// `eddy migrate`: versioned SQL migrations, applied in order and recorded on the server.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The project directory (holding eddy-migrations.toml and migrations/).
    #[arg(long, short = 'd', global = true, default_value = ".", env = "EDDY_MIGRATIONS_DIR")]
    pub project_dir: PathBuf,
    /// The server, overriding the project's configuration.
    #[arg(long = "server", short = 's', global = true, value_name = "SERVER")]
    pub migrate_server: Option<String>,
    #[command(subcommand)]
    pub command: MigrateCommand,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Creates a project directory: eddy-migrations.toml and an empty migrations/ folder.
    NewProject { dir: PathBuf },
    /// Writes the next migration file, migrations/V<version>__<description>.sql.
    Create {
        description: String,
        /// The version to give it (default: one above the highest).
        #[arg(long, short = 'v')]
        version: Option<u32>,
    },
    /// Creates the metadata on the server: the events stream and the versions table.
    InitializeMetadata,
    /// Drops the metadata (stream, table, their topics and the table's query). Not reversible.
    DestroyMetadata,
    /// Applies pending migrations in version order.
    Apply(ApplyArgs),
    /// Lists every version with its state, checksum and times.
    Info,
    /// Checks that applied migration files are unchanged.
    Validate,
    /// Records the outcome of a version left RUNNING (an interrupted apply) or ERROR, after checking by hand
    /// what it did on the server.
    Resolve {
        /// The version.
        #[arg(long, short = 'v')]
        version: u32,
        /// What it is now: migrated (its statements all took effect) or error.
        #[arg(long, value_enum)]
        state: ResolvedState,
    },
}

/// The states `resolve` can record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ResolvedState {
    Migrated,
    Error,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "which")]
pub struct ApplyWhich {
    /// Every pending migration.
    #[arg(long, short = 'a')]
    pub all: bool,
    /// The next pending migration.
    #[arg(long, short = 'n')]
    pub next: bool,
    /// Pending migrations up to and including this version.
    #[arg(long, short = 'u', value_name = "VERSION")]
    pub until: Option<u32>,
    /// Exactly this version, which must be the next pending one.
    #[arg(long, short = 'v', value_name = "VERSION")]
    pub version: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub which: ApplyWhich,
    /// Print what would run, without running or recording anything.
    #[arg(long)]
    pub dry_run: bool,
}

impl ApplyWhich {
    pub fn selection(&self) -> Selection {
        match (self.until, self.version) {
            (Some(v), _) => Selection::Until(v),
            (_, Some(v)) => Selection::Version(v),
            _ if self.next => Selection::Next,
            _ => Selection::All,
        }
    }
}
