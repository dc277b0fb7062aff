//! A shell session: runs local commands and sends SQL to the server, printing results as they come.

use std::io::Write as _;
use std::pin::pin;

use futures::StreamExt;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use crate::complete::{Names, SharedNames};
use crate::connection::{Connection, Target};
use crate::error::ShellError;
use crate::render::{self, Column, LiveTable, OutputFormat};
use crate::statements::{split, Piece};
use crate::variables::Variables;

/// What the caller does after a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Exit,
}

const HELP: &str = "\
Statements end with ';' and may span lines. SQL goes to the server; these commands run in the shell:
  help                      this text
  exit | quit               leave the shell (Ctrl-D too)
  clear                     clear the screen
  history                   the statements typed so far (Ctrl-R searches them)
  OUTPUT table|json|csv     how results print (also \\output)
  RUN SCRIPT 'file.sql'     run the statements of a file, stopping at the first error
  SPOOL file | SPOOL OFF    also write everything printed to a file
  DEFINE name = 'value'     a variable, used as ${name} in statements; UNDEFINE name removes it
  SHOW VARIABLES            the variables defined
Ctrl-C cancels a running query (and clears the line being typed); Tab completes names.";

/// The shell's state between statements.
pub struct Shell {
    target: Target,
    conn: Option<Connection>,
    /// Set once a connection was made, so a later one is announced as a reconnect.
    connected_before: bool,
    pub output: OutputFormat,
    pub variables: Variables,
    spool: Option<(String, std::fs::File)>,
    /// Names for completion, refreshed after connecting and after DDL.
    pub names: SharedNames,
    /// What the REPL has read, for `history`.
    pub history: Vec<String>,
    /// Width of the terminal, when printing to one.
    pub width: Option<usize>,
}

impl Shell {
    /// A shell for a server; it connects on first use.
    pub fn new(target: Target, output: OutputFormat) -> Self {
        let width = terminal_size::terminal_size().map(|(w, _)| w.0 as usize).filter(|w| *w > 0);
        Self {
            target,
            conn: None,
            connected_before: false,
            output,
            variables: Variables::default(),
            spool: None,
            names: SharedNames::default(),
            history: Vec::new(),
            width,
        }
    }

    /// Connects now (if not connected) and returns the server's version.
    pub async fn connect(&mut self) -> Result<String, ShellError> {
        self.connection().await?;
        Ok(self.conn.as_ref().map(|c| c.version.clone()).unwrap_or_default())
    }

    /// The server address.
    pub fn address(&self) -> &str {
        &self.target.address
    }

    /// Prints to the terminal and to the spool file.
    pub fn print(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        if let Some((_, file)) = &mut self.spool {
            let _ = file.write_all(text.as_bytes());
        }
    }

    /// Prints an error (to stderr and the spool file).
    pub fn print_error(&mut self, e: &ShellError) {
        let text = match e {
            ShellError::Server { message, sqlstate, .. } => format!("ERROR {sqlstate}: {message}\n"),
            other => format!("{other}\n"),
        };
        eprint!("{text}");
        if let Some((_, file)) = &mut self.spool {
            let _ = file.write_all(text.as_bytes());
        }
    }

    /// Runs every statement of a text; `origin` names it in errors (a file, `-e`). Stops at the first
    /// failing statement and returns its error, with the statement and its line.
    pub async fn run_text(&mut self, text: &str, origin: &str) -> Result<Flow, ShellError> {
        let (pieces, rest) = split(text);
        let mut pieces = pieces;
        if !rest.trim().is_empty() {
            // A script's last statement may omit its semicolon.
            let line = text[..text.len() - rest.len()].matches('\n').count() + 1;
            pieces.push(Piece { text: rest.trim().to_string(), line });
        }
        for piece in pieces {
            match self.run_piece(&piece.text).await {
                Ok(Flow::Exit) => return Ok(Flow::Exit),
                Ok(Flow::Continue) => {}
                Err(e) => {
                    let message = format!("{origin}, line {}: {}\n{e}", piece.line, piece.text);
                    return Err(match e {
                        ShellError::Server { sqlstate, position, .. } => {
                            ShellError::Server { message, sqlstate, position }
                        }
                        _ => ShellError::Usage(message),
                    });
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs one statement: a local command or SQL for the server.
    pub async fn run_piece(&mut self, text: &str) -> Result<Flow, ShellError> {
        let upper = text.to_ascii_uppercase();
        let mut words = upper.split_whitespace();
        let first = words.next().unwrap_or_default();
        let second = words.next().unwrap_or_default();
        match (first, second) {
            ("HELP", _) => self.print(&format!("{HELP}\n")),
            ("EXIT" | "QUIT", _) => return Ok(Flow::Exit),
            ("CLEAR", _) => self.print("\x1b[2J\x1b[H"),
            ("HISTORY", _) => {
                let lines: String =
                    self.history.iter().enumerate().map(|(i, h)| format!("{:>5}  {h}\n", i + 1)).collect();
                self.print(&lines);
            }
            ("OUTPUT" | "\\OUTPUT", "") => {
                let current = format!("{:?}", self.output).to_uppercase();
                self.print(&format!("Output format: {current}\n"));
            }
            ("OUTPUT" | "\\OUTPUT", _) => {
                let arg = text.split_whitespace().nth(1).unwrap_or_default();
                self.output = arg.parse().map_err(ShellError::Usage)?;
            }
            ("SPOOL", _) => self.spool(text)?,
            ("RUN", "SCRIPT") => {
                let path = text.split_whitespace().skip(2).collect::<Vec<_>>().join(" ");
                let path = path.trim().trim_matches('\'').to_string();
                let script = std::fs::read_to_string(&path).map_err(|e| ShellError::io(&path, e))?;
                return Box::pin(self.run_text(&script, &path)).await;
            }
            ("DEFINE", _) => self.variables.define(text)?,
            ("UNDEFINE", _) => self.variables.undefine(text)?,
            ("SHOW" | "LIST", "VARIABLES") => {
                let columns =
                    vec![Column { name: "Variable Name".into(), ty: None }, Column { name: "Value".into(), ty: None }];
                let rows: Vec<Vec<Option<String>>> =
                    self.variables.list().map(|(k, v)| vec![Some(k.clone()), Some(v.clone())]).collect();
                self.print_result(&columns, &rows);
            }
            _ => {
                let sql = self.variables.substitute(text)?;
                self.execute(&sql).await?;
                if matches!(first, "CREATE" | "DROP") {
                    self.refresh_names().await;
                }
            }
        }
        Ok(Flow::Continue)
    }

    fn spool(&mut self, text: &str) -> Result<(), ShellError> {
        let arg = text.split_whitespace().nth(1).map(|a| a.trim_matches('\'')).unwrap_or_default().to_string();
        if arg.is_empty() {
            let state =
                self.spool.as_ref().map(|(p, _)| format!("Spooling to {p}\n")).unwrap_or("Not spooling\n".into());
            self.print(&state);
        } else if arg.eq_ignore_ascii_case("OFF") {
            self.spool = None;
        } else {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&arg)
                .map_err(|e| ShellError::io(&arg, e))?;
            self.spool = Some((arg, file));
        }
        Ok(())
    }

    /// The open connection, reconnecting when there is none or the server closed it.
    async fn connection(&mut self) -> Result<&mut Connection, ShellError> {
        if self.conn.as_ref().is_none_or(Connection::is_closed) {
            self.conn = None;
            let conn = Connection::open(&self.target).await?;
            if self.connected_before {
                eprintln!("Reconnected to {} ({}).", self.target.address, conn.version);
            }
            self.connected_before = true;
            self.conn = Some(conn);
            self.refresh_names().await;
        }
        self.conn.as_mut().ok_or_else(|| ShellError::Connection("not connected".into()))
    }

    /// Sends one SQL statement and prints what comes back, rows of push queries as they arrive.
    /// Ctrl-C sends the protocol's cancel request and the query ends.
    async fn execute(&mut self, sql: &str) -> Result<(), ShellError> {
        self.connection().await?;
        let result = self.execute_on_connection(sql).await;
        if let Err(e) = &result {
            if e.is_connection() {
                self.conn = None;
                return Err(ShellError::Connection(format!(
                    "The connection to {} was lost ({e}); the shell reconnects on the next statement.",
                    self.target.address
                )));
            }
        }
        result
    }

    async fn execute_on_connection(&mut self, sql: &str) -> Result<(), ShellError> {
        let live = is_push(sql);
        let output = self.output;
        let width = self.width;
        let conn = self.connection().await?;
        // The statement's column types, when the server can describe it without running it.
        let described: Option<Vec<Column>> = conn.client.prepare(sql).await.ok().map(|s| {
            s.columns()
                .iter()
                .map(|c| Column { name: c.name().to_string(), ty: Some(render::sql_type_name(c.type_().name())) })
                .collect()
        });
        let cancel = conn.cancel_token();
        let stream = conn.client.simple_query_raw(sql).await.map_err(ShellError::from_pg)?;
        let mut stream = pin!(stream);
        let mut ctrl_c = pin!(tokio::signal::ctrl_c());
        let mut cancelled = false;
        let mut columns: Option<Vec<Column>> = None;
        let mut rows: Vec<Vec<Option<String>>> = Vec::new();
        let mut live_table: Option<LiveTable> = None;
        let mut count: u64 = 0;
        let mut printed = String::new();
        loop {
            let message = tokio::select! {
                m = stream.next() => m,
                _ = &mut ctrl_c, if !cancelled => {
                    cancelled = true;
                    if let Err(e) = cancel.cancel_query(NoTls).await {
                        eprintln!("Could not send the cancel request: {e}");
                    }
                    continue;
                }
            };
            match message {
                None => break,
                Some(Err(e)) if cancelled && e.code() == Some(&SqlState::QUERY_CANCELED) => break,
                Some(Err(e)) => return Err(ShellError::from_pg(e)),
                Some(Ok(SimpleQueryMessage::RowDescription(desc))) => {
                    let cols: Vec<Column> = desc
                        .iter()
                        .enumerate()
                        .map(|(i, c)| Column {
                            name: c.name().to_string(),
                            ty: described.as_ref().and_then(|d| d.get(i)).and_then(|d| d.ty.clone()),
                        })
                        .collect();
                    if live {
                        let header = match output {
                            OutputFormat::Table => {
                                let (table, header) = LiveTable::start(&cols, width);
                                live_table = Some(table);
                                header
                            }
                            OutputFormat::Csv => format!("{}\n", render::csv_header(&cols)),
                            OutputFormat::Json => String::new(),
                        };
                        printed.push_str(&header);
                    }
                    columns = Some(cols);
                }
                Some(Ok(SimpleQueryMessage::Row(r))) => {
                    let row: Vec<Option<String>> = (0..r.len()).map(|i| r.get(i).map(str::to_string)).collect();
                    count += 1;
                    if live {
                        let cols = columns.as_deref().unwrap_or_default();
                        let line = match (&live_table, output) {
                            (Some(t), OutputFormat::Table) => t.row(count, &row),
                            (_, OutputFormat::Csv) => format!("{}\n", render::csv_row(&row)),
                            _ => format!("{}\n", render::json_row(cols, &row)),
                        };
                        printed.push_str(&line);
                    } else {
                        rows.push(row);
                    }
                }
                Some(Ok(_)) => {}
            }
            if !printed.is_empty() {
                let text = std::mem::take(&mut printed);
                self.print(&text);
            }
        }
        if let Some(cols) = &columns {
            if live {
                let state = if cancelled { ", query cancelled" } else { "" };
                let footer = format!("({count} row{}{state})\n", if count == 1 { "" } else { "s" });
                // JSON and CSV stay machine-readable: the footer goes to the terminal only.
                match output {
                    OutputFormat::Table => self.print(&footer),
                    _ => eprint!("{footer}"),
                }
            } else {
                self.print_result(cols, &rows);
            }
        } else if cancelled {
            self.print("Query cancelled.\n");
        }
        let notices = self.conn.as_mut().map(Connection::take_notices).unwrap_or_default();
        for n in notices {
            self.print(&format!("{n}\n"));
        }
        Ok(())
    }

    /// Prints a complete result in the current format.
    fn print_result(&mut self, columns: &[Column], rows: &[Vec<Option<String>>]) {
        let text = match self.output {
            OutputFormat::Table => render::table(columns, rows, self.width),
            OutputFormat::Json => rows.iter().map(|r| format!("{}\n", render::json_row(columns, r))).collect(),
            OutputFormat::Csv => {
                let mut text = format!("{}\n", render::csv_header(columns));
                for r in rows {
                    text.push_str(&render::csv_row(r));
                    text.push('\n');
                }
                text
            }
        };
        self.print(&text);
    }

    /// Fetches stream, table, column and function names for completion.
    async fn refresh_names(&mut self) {
        let Some(conn) = &self.conn else { return };
        let first_column = |messages: Vec<SimpleQueryMessage>| -> Vec<String> {
            messages
                .into_iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                })
                .collect()
        };
        let mut names = Names::default();
        for show in ["SHOW STREAMS", "SHOW TABLES"] {
            if let Ok(m) = conn.client.simple_query(show).await {
                names.sources.extend(first_column(m));
            }
        }
        for source in names.sources.clone() {
            if let Ok(m) = conn.client.simple_query(&format!("DESCRIBE `{source}`")).await {
                for c in first_column(m) {
                    if !names.columns.contains(&c) {
                        names.columns.push(c);
                    }
                }
            }
        }
        if let Ok(m) = conn.client.simple_query("SHOW FUNCTIONS").await {
            names.functions = first_column(m);
        }
        if let Ok(mut shared) = self.names.lock() {
            *shared = names;
        }
    }
}

/// Whether a statement streams until cancelled or limited (its rows print as they arrive).
fn is_push(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().collect();
    words.first() == Some(&"PRINT") || words.windows(2).any(|w| w == ["EMIT", "CHANGES"])
}
