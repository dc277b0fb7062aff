//! The accept loop: one task per connection, until shutdown; sessions over the limit are
//! refused (at startup), idle ones closed, every one authenticated (and encrypted when TLS is configured).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::engine::Engine;
use crate::wire::{watch_idle, Activity, AuthMethod, ConnectionSlots, HandlerFactory, Users};

/// How clients are let in.
#[derive(Clone)]
pub struct Security {
    pub auth: AuthMethod,
    pub users: Arc<Users>,
    /// TLS for clients that ask for it (`sslmode=require`); None: TLS requests are declined.
    pub tls: Option<pgwire::tokio::TlsAcceptor>,
    /// At most this many clients at once (0: no limit).
    pub max_connections: usize,
    /// The default `idle_session_timeout` (None: sessions may stay idle).
    pub idle_session_timeout: Option<Duration>,
    /// The largest message a client may send, in bytes (its length field included): a longer one
    /// is refused from its length header, before its body is read (FATAL 08P01, as PostgreSQL
    /// answers an invalid message length). Process-wide: pgwire's decoder reads it.
    pub max_message_bytes: usize,
}

/// The default of `--max-message-size`: 64 MiB (PostgreSQL's own limit is 1 GiB; Eddy's statements
/// and parameters are far smaller, and COPY data comes in many messages).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 << 20;

impl Default for Security {
    /// Trust, no TLS, Postgres' default of 100 connections, no idle timeout.
    fn default() -> Self {
        Self {
            auth: AuthMethod::Trust,
            users: Arc::default(),
            tls: None,
            max_connections: 100,
            idle_session_timeout: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// Serves Postgres clients on `listener` until `shutdown` turns true, trusting every client.
pub async fn run(listener: TcpListener, engine: Arc<Engine>, shutdown: watch::Receiver<bool>) {
    run_with(listener, engine, shutdown, Security::default()).await
}

/// Serves Postgres clients on `listener` until `shutdown` turns true.
pub async fn run_with(
    listener: TcpListener,
    engine: Arc<Engine>,
    mut shutdown: watch::Receiver<bool>,
    security: Security,
) {
    let defaults = security
        .idle_session_timeout
        .map(|d| vec![("idle_session_timeout".to_string(), d.as_millis().to_string())])
        .unwrap_or_default();
    pgwire::messages::set_max_frontend_message_length(security.max_message_bytes);
    let slots = Arc::new(ConnectionSlots::new(security.max_connections));
    let factory = Arc::new(HandlerFactory::with_auth(engine, security.auth, security.users.clone(), defaults, slots));
    let mut backoff = crate::accept::AcceptBackoff::default();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    let (factory, security) = (factory.clone(), security.clone());
                    tokio::spawn(async move {
                        tracing::debug!(%peer, "client connected");
                        if let Err(e) = serve(socket, &factory, &security).await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => backoff.failed("Postgres", &e).await,
            }
        }
    }
}

/// One connection, with its idle watchdog.
async fn serve(socket: TcpStream, factory: &HandlerFactory, security: &Security) -> std::io::Result<()> {
    let activity = Activity::new(security.idle_session_timeout);
    let handlers = Arc::new(factory.for_connection(activity.clone()));
    // The watchdog closes the socket through a second handle on it.
    let std_socket = socket.into_std()?;
    let watchdog_socket = std_socket.try_clone()?;
    let socket = TcpStream::from_std(std_socket)?;
    let (done, ended) = tokio::sync::oneshot::channel();
    tokio::spawn(watch_idle(activity, watchdog_socket, security.tls.is_some(), ended));
    let result = pgwire::tokio::process_socket(socket, security.tls.clone(), handlers).await;
    let _ = done.send(());
    result
}
