//! What the wire keeps per connection: the client's session and a COPY FROM STDIN in progress.

use std::sync::{Arc, Mutex};

use pgwire::api::ClientInfo;
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::response::TransactionStatus;
use pgwire::types::format::FormatOptions;

use super::encode::Zone;
use crate::engine::{CopyIn, EngineError};
use crate::session::{Session, Transaction};

/// Startup parameters Postgres applies as settings of the new session.
/// Startup parameters that are not settings.
const PROTOCOL_PARAMETERS: &[&str] = &["user", "database", "options", "replication"];

/// The settings in a startup `options` parameter: `-c name=value` and `--name=value` (Postgres'
/// command-line switches; `\ ` escapes a space inside a value).
fn startup_options(options: &str) -> Vec<(String, String)> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => words.extend((!word.is_empty()).then(|| std::mem::take(&mut word))),
            c => word.push(c),
        }
    }
    words.extend((!word.is_empty()).then_some(word));
    let mut out = Vec::new();
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        let setting = if w == "-c" {
            words.next()
        } else {
            w.strip_prefix("--").or_else(|| w.strip_prefix("-c")).map(str::to_string)
        };
        if let Some((name, value)) = setting.as_deref().and_then(|s| s.split_once('=')) {
            out.push((name.replace('-', "_"), value.to_string()));
        }
    }
    out
}
/// The per-connection state, in the client's session extensions.
#[derive(Default)]
pub struct Connection {
    session: Mutex<Option<Session>>,
    copy_in: Mutex<Option<(CopyIn, Vec<u8>)>>,
}

fn connection<C: ClientInfo>(client: &C) -> Arc<Connection> {
    client.session_extensions().get_or_insert_with(Connection::default)
}

/// The client's session (made from its startup parameters on first use), taken out to run a
/// statement; give it back with [`put_session`].
pub fn take_session<C: ClientInfo>(client: &C) -> Session {
    let conn = connection(client);
    let taken = conn.session.lock().ok().and_then(|mut s| s.take());
    taken.unwrap_or_else(|| new_session(client))
}

/// Puts the session back after a statement.
pub fn put_session<C: ClientInfo>(client: &C, session: Session) {
    if let Ok(mut slot) = connection(client).session.lock() {
        *slot = Some(session);
    }
}

fn new_session<C: ClientInfo>(client: &C) -> Session {
    let metadata = client.metadata();
    let user = metadata.get("user").cloned().unwrap_or_else(|| "eddy".into());
    let database = metadata.get("database").cloned().unwrap_or_else(|| user.clone());
    let session = Session::new(&user, &database);
    if let Ok(mut settings) = session.settings.write() {
        // As Postgres does: every startup parameter that names a setting sets it, and so does each
        // `-c name=value` (or `--name=value`) of the `options` parameter (PGOPTIONS).
        for (name, value) in metadata {
            if !PROTOCOL_PARAMETERS.contains(&name.as_str()) {
                // A value Postgres would refuse is refused at startup there too; here it keeps the default.
                let _ = settings.set(name, Some(value));
            }
        }
        for (name, value) in metadata.get("options").map(|o| startup_options(o)).unwrap_or_default() {
            let _ = settings.set(&name, Some(&value));
        }
    }
    session
}

/// Starts a COPY FROM STDIN: data will follow.
pub fn begin_copy_in<C: ClientInfo>(client: &C, copy: CopyIn) {
    if let Ok(mut slot) = connection(client).copy_in.lock() {
        *slot = Some((copy, Vec::new()));
    }
}

/// Most COPY data one statement may send (bytes).
const COPY_LIMIT: usize = 256 * 1024 * 1024;

/// Adds COPY data; false when there is no COPY in progress or it exceeds the limit.
pub fn add_copy_data<C: ClientInfo>(client: &C, data: &[u8]) -> Result<(), EngineError> {
    let conn = connection(client);
    let mut slot = conn.copy_in.lock().map_err(|_| EngineError::new("XX000", "copy state lock"))?;
    let Some((_, buffer)) = slot.as_mut() else {
        return Err(EngineError::new("08P01", "COPY data without a COPY in progress"));
    };
    if buffer.len() + data.len() > COPY_LIMIT {
        *slot = None;
        return Err(EngineError::new(
            "54000",
            format!("COPY data over {} MiB; split it into several COPY statements", COPY_LIMIT >> 20),
        ));
    }
    buffer.extend_from_slice(data);
    Ok(())
}

/// Ends the COPY in progress, returning it with its data.
pub fn end_copy_in<C: ClientInfo>(client: &C) -> Option<(CopyIn, Vec<u8>)> {
    connection(client).copy_in.lock().ok().and_then(|mut s| s.take())
}

/// The transaction status ReadyForQuery reports for a session.
pub fn transaction_status(session: &Session) -> TransactionStatus {
    match session.transaction {
        Transaction::Idle => TransactionStatus::Idle,
        Transaction::Block => TransactionStatus::Transaction,
        Transaction::Failed => TransactionStatus::Error,
    }
}

/// How values are formatted for this session (DateStyle, extra_float_digits, ...).
pub fn format_options(session: &Session) -> Arc<FormatOptions> {
    let get = |name: &str, default: &str| session.setting(name).unwrap_or_else(|| default.to_string());
    let mut options = FormatOptions::default();
    options.date_style = get("DateStyle", "ISO, MDY");
    options.interval_style = get("IntervalStyle", "postgres");
    options.bytea_output = get("bytea_output", "hex");
    options.time_zone = get("TimeZone", "UTC");
    options.extra_float_digits = get("extra_float_digits", "1").parse().unwrap_or(1);
    Arc::new(options)
}

/// The session's time zone.
pub fn zone(session: &Session) -> Zone {
    Zone::named(&session.setting("TimeZone").unwrap_or_else(|| "UTC".into()))
}

/// An engine error as the client receives it.
pub fn user_error(e: &EngineError) -> PgWireError {
    let mut info = ErrorInfo::new("ERROR".to_string(), e.sqlstate.to_string(), e.message.clone());
    info.position = e.position.map(|p| p.to_string());
    info.hint = e.hint().map(str::to_string);
    info.where_context = e.context().map(str::to_string);
    PgWireError::UserError(Box::new(info))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index what they just built.
mod tests {
    use super::startup_options;

    #[test]
    fn reads_startup_options() {
        assert_eq!(
            startup_options("-c idle_session_timeout=1000 --search-path=public -capplication_name=a\\ b"),
            vec![
                ("idle_session_timeout".to_string(), "1000".to_string()),
                ("search_path".to_string(), "public".to_string()),
                ("application_name".to_string(), "a b".to_string()),
            ]
        );
    }
}
