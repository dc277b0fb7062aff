//! The Postgres front end as a client reaches it: the bytes go over a loopback connection to Eddy's
//! server (the vendored pgwire codec, Eddy's startup, query, extended-protocol and COPY handlers),
//! which must answer or close the connection, never panic or hang.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use eddy_runtime::MemoryBroker;
use eddy_server::Engine;

/// How long the server has to answer a connection once the client stopped sending: a push query
/// never ends by itself (and its keepalive keeps the connection busy), so this only bounds a case,
/// it is no verdict.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// The address of one server for the whole process, on its own thread and runtime.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async move {
                let broker = std::sync::Arc::new(MemoryBroker::new());
                let engine = std::sync::Arc::new(Engine::new(broker, None).await.expect("engine"));
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listener");
                tx.send(listener.local_addr().expect("address")).expect("address sent");
                let (_keep, shutdown) = tokio::sync::watch::channel(false);
                eddy_server::server::run(listener, engine, shutdown).await;
            });
        });
        rx.recv().expect("the fuzz server started")
    })
}

/// A StartupMessage for protocol 3.0 with a user and a database.
fn startup() -> Vec<u8> {
    let mut body = 196_608i32.to_be_bytes().to_vec();
    for part in ["user", "fuzz", "database", "fuzz", ""] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    let mut message = (body.len() as i32 + 4).to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    message
}

/// Sends the bytes on a new connection and reads every answer until the server closes it. An even
/// first byte means the rest follows a valid startup; an odd one sends the rest as it is (startup,
/// SSL, GSSAPI and cancel requests).
pub fn pg_messages(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(mut stream) = TcpStream::connect(server()) else { return };
    let mut sent = if mode % 2 == 0 { startup() } else { Vec::new() };
    sent.extend_from_slice(rest);
    // The server may close before reading everything (a FATAL error): that is an answer.
    let _ = stream.write_all(&sent);
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    let mut answer = [0u8; 64 * 1024];
    while let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        let _ = stream.set_read_timeout(Some(left));
        if !matches!(stream.read(&mut answer), Ok(n) if n > 0) {
            break;
        }
    }
}
