//! Helpers for end-to-end tests: the real `eddy-server` binary as a child process, and Kafka clients.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// A running `eddy-server` child process; killed when dropped.
pub struct Server {
    pub child: Child,
    pub pg_port: u16,
    /// The HTTP listener's port (metrics, health).
    pub http_port: Option<u16>,
    pub kafka: String,
}

impl Server {
    /// Starts the binary with extra arguments and waits for its banner.
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eddy-server"))
            .args(["--pg-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--log", "warn"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start eddy-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Keep draining so the server never blocks on a full pipe.
                    continue;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut pg_port, mut kafka, mut http_port) = (None, None, None);
        while pg_port.is_none() || kafka.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("eddy-server did not print its banner in time");
            if let Some(rest) = line.trim().strip_prefix("Postgres wire:") {
                let addr = rest.split_whitespace().next().expect("address");
                pg_port = Some(addr.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port"));
            }
            if let Some(rest) = line.trim().strip_prefix("HTTP:") {
                let addr = rest.split_whitespace().next().expect("address");
                http_port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
            }
            if let Some(rest) = line.trim().strip_prefix("Kafka:") {
                kafka = Some(rest.trim().to_string());
            }
        }
        Server { child, pg_port: pg_port.unwrap_or_default(), http_port, kafka: kafka.unwrap_or_default() }
    }

    /// GETs a path from the HTTP listener: the status code and the body.
    pub fn http_get(&self, path: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let port = self.http_port.expect("the server listens for HTTP");
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect HTTP");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status line");
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, body)
    }

    /// Connects a Postgres client.
    pub async fn connect(&self) -> tokio_postgres::Client {
        self.connect_with_handle().await.0
    }

    /// Connects a Postgres client; aborting the handle closes the socket, as a killed client would.
    pub async fn connect_with_handle(&self) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
        let config = format!("host=127.0.0.1 port={} user=test dbname=test connect_timeout=10", self.pg_port);
        let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await.expect("connect");
        let handle = tokio::spawn(async move {
            let _ = connection.await;
        });
        (client, handle)
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(status.success(), "eddy-server exited with {status}");
                    return;
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                _ => panic!("eddy-server did not stop after SIGTERM"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A producer for a bootstrap address.
pub fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "0")
        .create()
        .expect("producer")
}

/// Produces one record and waits for the acknowledgement.
pub async fn produce(producer: &FutureProducer, topic: &str, key: &[u8], value: &str, timestamp: i64) {
    producer
        .send(FutureRecord::to(topic).key(key).payload(value).timestamp(timestamp), Duration::from_secs(10))
        .await
        .expect("produce");
}

/// A consumer assigned every partition of `topic` from the beginning (no group join, no commits).
pub fn reader(bootstrap: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("e2e-reader-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
    let mut tpl = TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning).expect("partition");
        }
    }
    consumer.assign(&tpl).expect("assign");
    consumer
}

/// Reads a topic from the beginning until `n` records arrived (or panics after 60 s).
pub fn consume(bootstrap: &str, topic: &str, n: usize) -> Vec<(Option<Vec<u8>>, Option<String>)> {
    let consumer = reader(bootstrap, topic);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < deadline, "timed out waiting for {n} records on {topic}, got {out:?}");
        if let Some(Ok(msg)) = consumer.poll(Duration::from_millis(100)) {
            out.push((msg.key().map(|k| k.to_vec()), msg.payload().map(|p| String::from_utf8_lossy(p).into_owned())));
        }
    }
    out
}
