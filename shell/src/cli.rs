//! Command-line arguments of `eddy`.

use clap::Parser;

use crate::migrate::MigrateArgs;
use crate::render::OutputFormat;

/// The Eddy shell: an interactive SQL client of eddy-server (Postgres wire protocol).
#[derive(Debug, Parser)]
#[command(name = "eddy", version)]
pub struct Args {
    /// The server: postgres://[user[:password]@]host[:port] or host[:port].
    #[arg(long, short = 's', env = "EDDY_SERVER", default_value = "postgres://127.0.0.1:5433")]
    pub server: String,
    /// User name (overrides the one in --server).
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Password (overrides the one in --server).
    #[arg(long, short = 'p', env = "EDDY_PASSWORD")]
    pub password: Option<String>,
    /// How results print.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Run the statements of a file and exit (non-zero at the first failing statement).
    #[arg(long, short = 'f', conflicts_with = "execute")]
    pub file: Option<String>,
    /// Run these statements and exit (non-zero at the first failing statement).
    #[arg(long = "execute", short = 'e')]
    pub execute: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What `eddy` does besides the shell.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Versioned SQL migrations: new-project, create, initialize-metadata, apply, info, validate, destroy-metadata.
    Migrate(MigrateArgs),
}
