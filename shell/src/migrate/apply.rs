//! `eddy migrate apply`: runs pending migration files in version order, one connection per file (so
//! SET and DEFINE stay inside their file), recording RUNNING, then MIGRATED or ERROR, for each.

use super::cli::ResolvedState;
use super::files::MigrationFile;
use super::metadata::{History, Metadata, MigrationState, VersionRecord};
use super::validate::check_applied;
use crate::connection::{Connection, Target};
use crate::error::ShellError;
use crate::statements::{self, Piece};
use crate::variables::Variables;

/// Which pending versions to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    All,
    Next,
    Until(u32),
    Version(u32),
}

/// One statement of a migration file, checked before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Sql(Piece),
    Define(Piece),
    Undefine(Piece),
}

/// Splits a migration file and refuses what cannot run in one: an unterminated statement, queries
/// (a push query would never end) and shell commands other than DEFINE / UNDEFINE.
fn steps(file: &MigrationFile, text: &str) -> Result<Vec<Step>, ShellError> {
    let (pieces, rest) = statements::split(text);
    if !rest.trim().is_empty() {
        return Err(ShellError::Usage(format!(
            "{}: the file ends inside a statement (a missing ';'?): {}",
            file.file_name(),
            rest.trim()
        )));
    }
    pieces
        .into_iter()
        .map(|piece| {
            let first = piece.text.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
            let first = first.trim_end_matches(';');
            if statements::is_local(&piece.text) {
                return match first {
                    "DEFINE" => Ok(Step::Define(piece)),
                    "UNDEFINE" => Ok(Step::Undefine(piece)),
                    _ => Err(ShellError::Usage(format!(
                        "{}, line {}: `{}` is a shell command; migration files hold SQL statements, DEFINE and UNDEFINE",
                        file.file_name(),
                        piece.line,
                        piece.text
                    ))),
                };
            }
            if matches!(first, "SELECT" | "PRINT") {
                return Err(ShellError::Usage(format!(
                    "{}, line {}: queries cannot run in a migration file: {}",
                    file.file_name(),
                    piece.line,
                    piece.text
                )));
            }
            Ok(Step::Sql(piece))
        })
        .collect()
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
}

/// The versions `selection` picks among the files not yet migrated, after checking that applying is safe.
pub fn plan<'a>(
    files: &'a [MigrationFile],
    history: &History,
    selection: Selection,
) -> Result<Vec<&'a MigrationFile>, ShellError> {
    if let Some(running) = history.versions.values().find(|r| r.state == MigrationState::Running) {
        return Err(ShellError::Usage(format!(
            "Version {} ({}) has been RUNNING since {}: another apply is in progress, or one was interrupted. \
             Nothing was applied. Once no apply runs, check what version {v} did on the server and record its outcome \
             with `eddy migrate resolve --version {v} --state migrated|error`.",
            running.version,
            running.name,
            running.started_on.as_deref().unwrap_or("an unknown time"),
            v = running.version
        )));
    }
    let problems = check_applied(files, history);
    if !problems.is_empty() {
        return Err(ShellError::Usage(format!(
            "Applied migrations do not match their files; nothing was applied:\n  {}",
            problems.join("\n  ")
        )));
    }
    let latest = history.latest_migrated().unwrap_or(0);
    let pending: Vec<&MigrationFile> = files
        .iter()
        .filter(|f| history.versions.get(&f.version).is_none_or(|r| r.state != MigrationState::Migrated))
        .collect();
    if let Some(early) = pending.iter().find(|f| f.version < latest) {
        return Err(ShellError::Usage(format!(
            "{} is not applied but version {latest} is: migrations apply in version order. Give it a version above {latest}.",
            early.file_name()
        )));
    }
    for f in &pending {
        if let Some(r) = history.versions.get(&f.version) {
            if r.state == MigrationState::Error && r.checksum == f.checksum {
                return Err(ShellError::Usage(format!(
                    "{} failed when it was applied ({}) and the file has not changed since, so it is not run again. \
                     Fix the file (and undo what its earlier statements did on the server, if needed), then apply again.",
                    f.file_name(),
                    r.error_reason.as_deref().unwrap_or("no reason recorded")
                )));
            }
        }
    }
    let exists = |v: u32| -> Result<(), ShellError> {
        if files.iter().any(|f| f.version == v) {
            Ok(())
        } else {
            Err(ShellError::Usage(format!("There is no migration file of version {v}.")))
        }
    };
    Ok(match selection {
        Selection::All => pending,
        Selection::Next => pending.into_iter().take(1).collect(),
        Selection::Until(v) => {
            exists(v)?;
            pending.into_iter().filter(|f| f.version <= v).collect()
        }
        Selection::Version(v) => {
            exists(v)?;
            match pending.first() {
                Some(f) if f.version == v => vec![*f],
                _ if !pending.iter().any(|f| f.version == v) => {
                    return Err(ShellError::Usage(format!("Version {v} is already migrated.")))
                }
                Some(f) => {
                    return Err(ShellError::Usage(format!(
                        "Version {v} cannot be applied before version {} ({}): use --until {v} to apply both.",
                        f.version, f.name
                    )))
                }
                None => unreachable!("pending holds version {v}"),
            }
        }
    })
}

/// Applies the planned files; returns how many were applied. Stops at the first failing statement.
pub async fn apply(
    target: &Target,
    metadata: &Metadata<'_>,
    files: &[MigrationFile],
    history: &History,
    selection: Selection,
    dry_run: bool,
) -> Result<usize, ShellError> {
    let chosen = plan(files, history, selection)?;
    if chosen.is_empty() {
        let current = history.latest_migrated().map(|v| v.to_string()).unwrap_or_else(|| "<none>".into());
        println!("Nothing to apply: every selected migration is MIGRATED (current version: {current}).");
        return Ok(0);
    }
    // Read and check every chosen file before running any of them.
    let mut prepared = Vec::new();
    for f in &chosen {
        let text = f.read()?;
        if super::files::checksum(text.as_bytes()) != f.checksum {
            return Err(ShellError::Usage(format!(
                "{} changed while being applied; nothing was applied.",
                f.file_name()
            )));
        }
        prepared.push((*f, steps(f, &text)?));
    }
    if dry_run {
        for (f, steps) in &prepared {
            println!("Would apply {} ({}): {} statement(s)", f.file_name(), f.name, steps.len());
            for step in steps {
                let (Step::Sql(p) | Step::Define(p) | Step::Undefine(p)) = step;
                println!("  line {}: {}", p.line, p.text);
            }
        }
        println!("Dry run: nothing was applied.");
        return Ok(0);
    }
    let mut previous = history.latest_migrated().map(|v| v.to_string()).unwrap_or_else(|| "<none>".into());
    for (n, (f, steps)) in prepared.into_iter().enumerate() {
        println!("Applying {} ({}) ...", f.file_name(), f.name);
        let mut record = VersionRecord {
            version: f.version,
            name: f.name.clone(),
            state: MigrationState::Running,
            checksum: f.checksum.clone(),
            started_on: Some(now()),
            completed_on: None,
            previous: previous.clone(),
            error_reason: None,
        };
        metadata.record(&record).await?;
        let outcome = run_steps(target, &steps).await;
        record.completed_on = Some(now());
        match outcome {
            Ok(()) => {
                record.state = MigrationState::Migrated;
                metadata.record(&record).await?;
                println!("  MIGRATED: {} statement(s)", steps.len());
                previous = f.version.to_string();
            }
            Err((reason, statement)) => {
                record.state = MigrationState::Error;
                record.error_reason = Some(reason.clone());
                metadata.record(&record).await?;
                return Err(ShellError::Usage(format!(
                    "{} failed at {reason}\n  statement: {statement}\nIt is recorded as ERROR; {n} migration(s) were applied before it, later ones were not run.",
                    f.file_name()
                )));
            }
        }
    }
    Ok(chosen.len())
}

/// Records by hand the outcome of a version left RUNNING or ERROR; MIGRATED takes the file's checksum.
pub async fn resolve(
    metadata: &Metadata<'_>,
    files: &[MigrationFile],
    history: &History,
    version: u32,
    state: ResolvedState,
) -> Result<String, ShellError> {
    let Some(current) = history.versions.get(&version) else {
        return Err(ShellError::Usage(format!("Version {version} was never applied: there is nothing to resolve.")));
    };
    if !matches!(current.state, MigrationState::Running | MigrationState::Error) {
        return Err(ShellError::Usage(format!(
            "Version {version} is {}: only RUNNING or ERROR versions can be resolved.",
            current.state.as_str()
        )));
    }
    let mut record = current.clone();
    record.completed_on = Some(now());
    match state {
        ResolvedState::Migrated => {
            let file = files.iter().find(|f| f.version == version).ok_or_else(|| {
                ShellError::Usage(format!("Version {version} has no file: it cannot be marked MIGRATED."))
            })?;
            record.state = MigrationState::Migrated;
            record.checksum = file.checksum.clone();
            record.error_reason = None;
        }
        ResolvedState::Error => {
            record.state = MigrationState::Error;
            if record.error_reason.is_none() {
                record.error_reason = Some("marked as failed with `eddy migrate resolve`".into());
            }
        }
    }
    metadata.record(&record).await?;
    Ok(format!("Version {version} ({}) is now {}.", record.name, record.state.as_str()))
}

/// Runs one file's statements on a fresh connection; the error names the failing line (the reason
/// recorded) and the statement.
async fn run_steps(target: &Target, steps: &[Step]) -> Result<(), (String, String)> {
    let connection = Connection::open(target).await.map_err(|e| (format!("connecting: {e}"), String::new()))?;
    let mut variables = Variables::default();
    for step in steps {
        let result = match step {
            Step::Define(p) => variables.define(&p.text).map_err(|e| (p, e)),
            Step::Undefine(p) => variables.undefine(&p.text).map_err(|e| (p, e)),
            Step::Sql(p) => match variables.substitute(&p.text) {
                Ok(sql) => {
                    connection.client.simple_query(&sql).await.map(drop).map_err(|e| (p, ShellError::from_pg(e)))
                }
                Err(e) => Err((p, e)),
            },
        };
        if let Err((piece, e)) = result {
            return Err((format!("line {}: {}", piece.line, e.to_string().replace('\n', " ")), piece.text.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(version: u32, checksum: &str) -> MigrationFile {
        MigrationFile {
            version,
            name: format!("m{version}"),
            path: format!("V{version:06}__m{version}.sql").into(),
            checksum: checksum.into(),
        }
    }

    fn applied(version: u32, state: MigrationState, checksum: &str) -> VersionRecord {
        VersionRecord {
            version,
            name: format!("m{version}"),
            state,
            checksum: checksum.into(),
            started_on: None,
            completed_on: None,
            previous: String::new(),
            error_reason: Some("boom".into()),
        }
    }

    fn history(records: Vec<VersionRecord>) -> History {
        History { versions: records.into_iter().map(|r| (r.version, r)).collect(), current: None }
    }

    fn versions(files: &[&MigrationFile]) -> Vec<u32> {
        files.iter().map(|f| f.version).collect()
    }

    #[test]
    fn selections_pick_among_pending_versions() {
        let files = vec![file(1, "a"), file(2, "b"), file(3, "c"), file(4, "d")];
        let h = history(vec![applied(1, MigrationState::Migrated, "a")]);
        assert_eq!(versions(&plan(&files, &h, Selection::All).unwrap()), vec![2, 3, 4]);
        assert_eq!(versions(&plan(&files, &h, Selection::Next).unwrap()), vec![2]);
        assert_eq!(versions(&plan(&files, &h, Selection::Until(3)).unwrap()), vec![2, 3]);
        assert_eq!(versions(&plan(&files, &h, Selection::Version(2)).unwrap()), vec![2]);
        assert!(plan(&files, &h, Selection::Version(3)).unwrap_err().to_string().contains("--until 3"));
        assert!(plan(&files, &h, Selection::Version(1)).unwrap_err().to_string().contains("already migrated"));
        assert!(plan(&files, &h, Selection::Until(9)).unwrap_err().to_string().contains("no migration file"));
    }

    #[test]
    fn unsafe_states_refuse_to_apply() {
        let files = vec![file(1, "a"), file(2, "b")];
        let running = history(vec![applied(1, MigrationState::Running, "a")]);
        assert!(plan(&files, &running, Selection::All).unwrap_err().to_string().contains("RUNNING"));
        let changed = history(vec![applied(1, MigrationState::Migrated, "old")]);
        assert!(plan(&files, &changed, Selection::All).unwrap_err().to_string().contains("checksum"));
        let failed = history(vec![applied(1, MigrationState::Migrated, "a"), applied(2, MigrationState::Error, "b")]);
        assert!(plan(&files, &failed, Selection::All).unwrap_err().to_string().contains("not run again"));
        let fixed = history(vec![applied(1, MigrationState::Migrated, "a"), applied(2, MigrationState::Error, "x")]);
        assert_eq!(versions(&plan(&files, &fixed, Selection::All).unwrap()), vec![2]);
        let gap = history(vec![applied(2, MigrationState::Migrated, "b")]);
        assert!(plan(&files, &gap, Selection::All).unwrap_err().to_string().contains("version order"));
    }

    #[test]
    fn files_with_queries_or_shell_commands_are_refused() {
        let f = file(1, "a");
        assert_eq!(
            steps(&f, "CREATE STREAM S (A INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1);\nDEFINE x = '1';").unwrap().len(),
            2
        );
        assert!(steps(&f, "SELECT * FROM S EMIT CHANGES;").unwrap_err().to_string().contains("line 1"));
        assert!(steps(&f, "\nSPOOL out.txt").unwrap_err().to_string().contains("line 2"));
        assert!(steps(&f, "CREATE STREAM S (A INT)").unwrap_err().to_string().contains("missing ';'"));
    }
}
