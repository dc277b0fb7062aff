//! An Eddy server in the test process (embedded Kafka, Postgres wire on a free port) for the shell to
//! talk to, and a Postgres client to look at it from the side.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use eddy_runtime::kafka::{ClientSettings, EmbeddedKafka, KafkaBroker, MockAdmin};
use eddy_server::Engine;
use tokio_postgres::SimpleQueryMessage;

/// The address of the shared server, started on first use.
pub fn server() -> &'static str {
    static ADDRESS: OnceLock<String> = OnceLock::new();
    ADDRESS.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let cluster = Arc::new(EmbeddedKafka::start().expect("embedded kafka"));
                let settings = ClientSettings::new(cluster.bootstrap_servers());
                let admin = Arc::new(MockAdmin::new(cluster.clone()));
                let broker = Arc::new(KafkaBroker::new(settings, admin, Some(cluster)).expect("broker"));
                let engine = Arc::new(Engine::new(broker, None).await.expect("engine"));
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
                let address = listener.local_addr().expect("address").to_string();
                let (_shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
                tx.send(address).expect("send address");
                eddy_server::server::run(listener, engine, shutdown_rx).await;
            });
        });
        rx.recv_timeout(Duration::from_secs(60)).expect("server did not start")
    })
}

/// Runs a statement from a plain Postgres client and returns the first column of each row.
pub fn first_column(sql: &str) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (host, port) = server().rsplit_once(':').expect("address");
        let config = format!("host={host} port={port} user=test dbname=test");
        let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(connection);
        client
            .simple_query(sql)
            .await
            .expect("query")
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .collect()
    })
}

/// Waits until `condition` holds, failing after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fresh directory under the target directory (HOME of a shell run, scripts, projects).
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-shell-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A TCP proxy in front of the server whose connections can be cut, as if the server went away.
pub struct Proxy {
    pub address: String,
    open: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    /// Listens on a free port and forwards each connection to the shared server.
    pub fn start() -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let address = listener.local_addr().expect("address").to_string();
        let open: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let sockets = open.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(upstream) = std::net::TcpStream::connect(server()) else { continue };
                for s in [&client, &upstream] {
                    if let Ok(clone) = s.try_clone() {
                        sockets.lock().expect("lock").push(clone);
                    }
                }
                let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                };
                if let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) {
                    pipe(client, u2);
                    pipe(upstream, c2);
                }
            }
        });
        Proxy { address, open }
    }

    /// Closes every connection made so far (new ones still go through).
    pub fn cut(&self) {
        for s in self.open.lock().expect("lock").drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}
