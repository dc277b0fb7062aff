//! Serving the HTTP routes connection by connection, with what a listener shared by untrusted
//! clients needs and `axum::serve` lacks: at most [`MAX_CONNECTIONS`] connections at once (more
//! are closed as they come), a connection closed when a request's header (or the next request on
//! a kept-alive connection) does not arrive within [`HEADER_TIMEOUT`], and a pause after a failed
//! accept.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::accept::AcceptBackoff;

/// HTTP connections served at once: scrapers and probes need a handful.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a connection may take to send a request's header, or stay idle between requests.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection's requests in flight may take to finish once the server stops.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, router: Router, shutdown: watch::Receiver<bool>) {
    serve_with(listener, router, shutdown, MAX_CONNECTIONS, HEADER_TIMEOUT).await;
}

async fn serve_with(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    max_connections: usize,
    header_timeout: Duration,
) {
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut backoff = AcceptBackoff::default();
    let mut refused = AcceptBackoff::default();
    loop {
        let (stream, peer) = tokio::select! {
            () = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    backoff.failed("HTTP", &e).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refused.say("HTTP", &format!("connection from {peer} closed: {max_connections} HTTP connections are open"));
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                    }
                }
                () = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN, connection).await;
                }
            }
        });
    }
}

/// Completes once `shutdown` is true (or its sender is gone); holds no borrow of it afterwards.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await.map(|_| ());
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// Reads until the peer closes; false if it did not within `within`.
    async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    #[tokio::test]
    async fn connections_are_bounded_and_silent_ones_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, shutdown) = watch::channel(false);
        let router = Router::new().route("/", get(|| async { "ok" }));
        let server = tokio::spawn(serve_with(listener, router, shutdown, 2, Duration::from_millis(300)));

        // Two silent connections take the two places; a third is closed at once.
        let mut silent = [TcpStream::connect(address).await.expect("1"), TcpStream::connect(address).await.expect("2")];
        let mut third = TcpStream::connect(address).await.expect("3");
        assert!(closed_within(&mut third, Duration::from_secs(5)).await, "the third connection stayed open");
        // The silent ones are closed when their header does not come.
        for s in &mut silent {
            assert!(closed_within(s, Duration::from_secs(5)).await, "a silent connection stayed open");
        }
        // Then a client is served again.
        let mut client = TcpStream::connect(address).await.expect("client");
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("request");
        let mut response = String::new();
        client.read_to_string(&mut response).await.expect("response");
        assert!(response.starts_with("HTTP/1.1 200") && response.ends_with("ok"), "{response}");

        let _ = stop.send(true);
        tokio::time::timeout(Duration::from_secs(10), server).await.expect("stopped").expect("joined");
    }
}
