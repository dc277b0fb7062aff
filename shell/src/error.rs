//! Errors of the shell.

/// Why a shell action failed.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The server rejected a statement (its message, SQLSTATE and position in the statement).
    #[error("{message}")]
    Server { message: String, sqlstate: String, position: Option<usize> },
    /// The server cannot be reached or the connection broke.
    #[error("{0}")]
    Connection(String),
    /// A local command was used wrongly.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The line editor failed.
    #[error("line editor: {0}")]
    Editor(#[from] rustyline::error::ReadlineError),
}

impl ShellError {
    /// An I/O error on a file.
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// Converts a tokio-postgres error: a server error keeps its SQLSTATE, anything else means the
    /// connection is gone.
    pub fn from_pg(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => Self::Server {
                message: db.message().to_string(),
                sqlstate: db.code().code().to_string(),
                position: match db.position() {
                    Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p as usize),
                    _ => None,
                },
            },
            None => Self::Connection(e.to_string()),
        }
    }

    /// Whether the connection is gone (the next statement reconnects).
    pub fn is_connection(&self) -> bool {
        matches!(self, Self::Connection(_))
    }
}
