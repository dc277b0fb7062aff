//! The accept loop: one task per connection, until shutdown.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::engine::Engine;
use crate::wire::HandlerFactory;

/// Serves Postgres clients on `listener` until `shutdown` turns true.
pub async fn run(listener: TcpListener, engine: Arc<Engine>, mut shutdown: watch::Receiver<bool>) {
    let factory = Arc::new(HandlerFactory::new(engine));
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    let factory = factory.clone();
                    tokio::spawn(async move {
                        tracing::debug!(%peer, "client connected");
                        if let Err(e) = pgwire::tokio::process_socket(socket, None, factory).await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            }
        }
    }
}
