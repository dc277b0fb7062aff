//! One Postgres connection to eddy-server: the client, the server's notices, and cancel requests.

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, CancelToken, Client, Config, NoTls, SimpleQueryMessage};

use crate::error::ShellError;

/// Where and as whom the shell connects.
#[derive(Debug, Clone)]
pub struct Target {
    pub config: Config,
    /// `host:port`, for messages.
    pub address: String,
}

impl Target {
    /// Reads `postgres://[user[:password]@]host[:port]` (or bare `host[:port]`); flags override the
    /// user and password given there.
    pub fn parse(server: &str, user: Option<&str>, password: Option<&str>) -> Result<Self, ShellError> {
        let url = if server.contains("://") { server.to_string() } else { format!("postgres://{server}") };
        let mut config: Config =
            url.parse().map_err(|e| ShellError::Usage(format!("invalid server address '{server}': {e}")))?;
        if config.get_ports().is_empty() {
            config.port(5433);
        }
        match user {
            Some(u) => {
                config.user(u);
            }
            None if config.get_user().is_none() => {
                config.user("eddy");
            }
            None => {}
        }
        if let Some(p) = password {
            config.password(p);
        }
        if config.get_dbname().is_none() {
            config.dbname("eddy");
        }
        config.application_name("eddy-shell").connect_timeout(std::time::Duration::from_secs(10));
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "127.0.0.1".to_string(),
        };
        if config.get_hosts().is_empty() {
            config.host(&host);
        }
        let port = config.get_ports().first().copied().unwrap_or(5433);
        Ok(Self { config, address: format!("{host}:{port}") })
    }
}

/// An open connection.
pub struct Connection {
    pub client: Client,
    /// The server's `version()`.
    pub version: String,
    notices: mpsc::UnboundedReceiver<String>,
}

impl Connection {
    /// Connects and asks the server for its version.
    pub async fn open(target: &Target) -> Result<Self, ShellError> {
        let (client, mut connection) = target.config.connect(NoTls).await.map_err(|e| {
            ShellError::Connection(format!(
                "Cannot connect to the server at {}: {e}. Is eddy-server running?",
                target.address
            ))
        })?;
        let (tx, notices) = mpsc::unbounded_channel();
        // The connection runs on its own task; the server's notices (e.g. "Created query with ID ...")
        // come through it and are printed after the statement that caused them.
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notice(n)) => {
                        let _ = tx.send(n.message().to_string());
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        let version = client
            .simple_query("SELECT version()")
            .await
            .ok()
            .and_then(|messages| {
                messages.into_iter().find_map(|m| match m {
                    SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                })
            })
            .unwrap_or_else(|| "an unknown version".to_string());
        Ok(Self { client, version, notices })
    }

    /// Whether the server closed the connection.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// What cancels the statement running on this connection.
    pub fn cancel_token(&self) -> CancelToken {
        self.client.cancel_token()
    }

    /// The notices received since the last call.
    pub fn take_notices(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(n) = self.notices.try_recv() {
            out.push(n);
        }
        out
    }
}
