//! `eddy migrate`: versioned SQL migration files applied in order, their state kept on the server.

mod apply;
mod cli;
mod config;
mod files;
mod info;
mod metadata;
mod project;
mod validate;

pub use apply::Selection;
pub use cli::{MigrateArgs, MigrateCommand, ResolvedState};
pub use config::{MigrationConfig, Project, CONFIG_FILE};
pub use metadata::MigrationState;

use crate::connection::{Connection, Target};
use crate::error::ShellError;
use metadata::Metadata;

/// Runs one `eddy migrate` command, printing its result.
pub async fn run(args: MigrateArgs) -> Result<(), ShellError> {
    let project = match &args.command {
        MigrateCommand::NewProject { dir } => {
            let server = args.migrate_server.as_deref().unwrap_or("postgres://127.0.0.1:5433");
            let config = project::new_project(dir, server)?;
            println!("Created {} and {}/.", config.display(), dir.join(config::MIGRATIONS_DIR).display());
            println!("Next: `eddy migrate -d {} initialize-metadata`, then `create <description>`.", dir.display());
            return Ok(());
        }
        _ => Project::load(&args.project_dir)?,
    };
    if let MigrateCommand::Create { description, version } = &args.command {
        let path = project::create(&project, description, *version)?;
        println!("Created {}", path.display());
        return Ok(());
    }
    let config = &project.config;
    let server = args.migrate_server.as_deref().unwrap_or(&config.server);
    let target = Target::parse(server, config.user.as_deref(), config.password.as_deref())?;
    let connection = Connection::open(&target).await?;
    let metadata = Metadata { client: &connection.client, config };
    match &args.command {
        MigrateCommand::NewProject { .. } | MigrateCommand::Create { .. } => unreachable!("handled above"),
        MigrateCommand::InitializeMetadata => {
            for line in metadata.initialize().await? {
                println!("{line}");
            }
        }
        MigrateCommand::DestroyMetadata => {
            for line in metadata.destroy().await? {
                println!("{line}");
            }
        }
        MigrateCommand::Info => {
            let files = files::list(&project.migrations_dir())?;
            let history = metadata.read().await?;
            print!("{}", info::report(&files, &history));
        }
        MigrateCommand::Validate => {
            let files = files::list(&project.migrations_dir())?;
            let history = metadata.read().await?;
            let problems = validate::check_applied(&files, &history);
            if !problems.is_empty() {
                return Err(ShellError::Usage(format!("Validation failed:\n  {}", problems.join("\n  "))));
            }
            let applied = history.versions.values().filter(|r| r.state == MigrationState::Migrated).count();
            println!("Validated: the {applied} applied migration file(s) are unchanged.");
        }
        MigrateCommand::Resolve { version, state } => {
            let files = files::list(&project.migrations_dir())?;
            let history = metadata.read().await?;
            println!("{}", apply::resolve(&metadata, &files, &history, *version, *state).await?);
        }
        MigrateCommand::Apply(apply_args) => {
            let files = files::list(&project.migrations_dir())?;
            let history = metadata.read().await?;
            let applied =
                apply::apply(&target, &metadata, &files, &history, apply_args.which.selection(), apply_args.dry_run)
                    .await?;
            if applied > 0 {
                println!("Applied {applied} migration(s).");
            }
        }
    }
    Ok(())
}
