//! `eddy-server`: starts the engine on Kafka (or the embedded broker) and serves Postgres clients.

/// mimalloc: glibc malloc spends a third of a pull query's CPU under many concurrent sessions
/// (measured with perf on the pull-lookups benchmark).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use eddy_runtime::kafka::{ClientSettings, EmbeddedKafka, KafkaAdmin, KafkaBroker, MockAdmin, TopicAdmin};
use eddy_runtime::ProcessingLog;
use eddy_server::config::{Config, Flags};
use eddy_server::Engine;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

fn main() {
    let started = Instant::now();
    let flags = Flags::parse();
    if flags.hash_password {
        let mut password = String::new();
        if std::io::stdin().read_line(&mut password).is_err() || password.trim_end_matches(['\r', '\n']).is_empty() {
            eprintln!("eddy-server: give the password on standard input");
            std::process::exit(2);
        }
        println!("{}", eddy_server::wire::Verifier::new(password.trim_end_matches(['\r', '\n'])));
        return;
    }
    let config = match Config::load(flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("eddy-server: {e}");
            std::process::exit(2);
        }
    };
    let filter = EnvFilter::try_new(format!("{},librdkafka=warn,rdkafka=warn", config.log))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();
    // Deeply nested statements (a 10,000-term `OR` chain a BI tool generates) are walked by
    // recursive code (the SQL AST's derived Clone, Drop and visitors): worker threads get stacks
    // large enough for the statement limits (`eddy_server::limits`); only touched pages cost memory.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(eddy_server::limits::THREAD_STACK_BYTES)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("eddy-server: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(serve(config, started)) {
        tracing::error!("{e}");
        std::process::exit(1);
    }
}

async fn serve(config: Config, started: Instant) -> Result<(), String> {
    // Bad certificates stop the start before anything says "ready".
    let tls = match &config.tls {
        Some((cert, key)) => Some(eddy_server::tls::acceptor(cert, key)?),
        None => None,
    };
    let (settings, admin, embedded): (ClientSettings, Arc<dyn TopicAdmin>, Option<Arc<EmbeddedKafka>>) =
        match &config.kafka {
            Some(bootstrap) => {
                let mut settings = ClientSettings::new(bootstrap);
                settings.properties = config.kafka_properties.clone();
                let admin = KafkaAdmin::new(settings.clone()).map_err(|e| e.to_string())?;
                (settings, Arc::new(admin), None)
            }
            None => {
                let cluster = Arc::new(EmbeddedKafka::start().map_err(|e| e.to_string())?);
                let settings = ClientSettings::new(cluster.bootstrap_servers());
                (settings, Arc::new(MockAdmin::new(cluster.clone())), Some(cluster))
            }
        };
    eddy_server::limits::configure(&config.limits)?;
    let bootstrap = settings.bootstrap.clone();
    let mut broker = KafkaBroker::new(settings, admin, embedded.clone())
        .map_err(|e| e.to_string())?
        .with_service_id(&config.service_id);
    if config.processing_log.is_some() {
        let topic = config.processing_log_topic();
        broker = broker.with_processing_log(ProcessingLog { topic, include_rows: config.processing_log_include_rows });
    }
    let broker = Arc::new(broker);
    let engine = Arc::new(Engine::new(broker, Some(config.command_topic())).await.map_err(|e| match e.hint() {
        Some(hint) => format!("cannot start the engine: {e}\nhint: {hint}"),
        None => format!("cannot start the engine: {e}"),
    })?);
    engine.set_push_limits(config.push_limits);
    // Waited for briefly, then in the background: a broker that does not answer CreateTopics
    // must not hold the start.
    if let Some(stream) = config.processing_log.clone() {
        let (engine, topic) = (engine.clone(), config.processing_log_topic());
        let mut declared = tokio::spawn(async move {
            if let Err(e) = engine.declare_processing_log(&stream, &topic).await {
                tracing::warn!(stream = %stream, error = %e, "no processing log stream: query failures go to the server log only");
            }
        });
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut declared).await;
    }
    let listener = TcpListener::bind(&config.pg_listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.pg_listen))?;
    let pg_addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| config.pg_listen.clone());
    let http = match &config.http_listen {
        None => None,
        Some(address) => match TcpListener::bind(address).await {
            Ok(l) => Some(l),
            // The default port may be another server's (ksqlDB's, or a second Eddy): said, not fatal.
            Err(e) if !config.http_listen_chosen => {
                tracing::warn!(address = %address, error = %e, "no HTTP listener (metrics, health): choose --http-listen ADDR, or none");
                None
            }
            Err(e) => return Err(format!("cannot listen for HTTP on {address}: {e}")),
        },
    };
    let http_addr = http.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.to_string());
    println!("Eddy {} is ready in {} ms", env!("CARGO_PKG_VERSION"), started.elapsed().as_millis());
    println!(
        "  Postgres wire: {pg_addr}   (psql -h {} -p {})",
        pg_addr.rsplit_once(':').map(|x| x.0).unwrap_or("127.0.0.1"),
        pg_addr.rsplit_once(':').map(|x| x.1).unwrap_or("5433")
    );
    if let Some(address) = &http_addr {
        println!("  HTTP:          {address}   (Prometheus metrics at http://{address}/metrics, /healthcheck, /info)");
    }
    println!("  Kafka:         {bootstrap}");
    if embedded.is_some() {
        println!("  The embedded Kafka broker is in-memory only: topics and data are lost when the server stops,");
        println!("  and each partition keeps at most ~5 MiB / 100,000 record sets. Use --kafka HOST:PORT for a real cluster.");
    }
    println!(
        "  Clients:       auth {}, TLS {}, {}{}",
        config.auth,
        if tls.is_some() { "on" } else { "off" },
        match config.max_connections {
            0 => "no connection limit".to_string(),
            n => format!("at most {n} connections"),
        },
        config.idle_session_timeout.map(|d| format!(", idle sessions closed after {d:?}")).unwrap_or_default()
    );
    eddy_server::limits::MAX_CONNECTIONS.store(config.max_connections, std::sync::atomic::Ordering::Relaxed);
    let security = eddy_server::server::Security {
        auth: config.auth,
        users: std::sync::Arc::new(config.users.clone()),
        tls,
        max_connections: config.max_connections,
        idle_session_timeout: config.idle_session_timeout,
        max_message_bytes: config.max_message_bytes,
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let http_state = eddy_server::http::HttpState {
        engine: engine.clone(),
        auth: security.auth,
        users: security.users.clone(),
        service_id: config.service_id.clone(),
    };
    let http_server = http.map(|listener| {
        let app = eddy_server::http::router(http_state);
        tokio::spawn(eddy_server::http::serve(listener, app, shutdown_rx.clone()))
    });
    let server = tokio::spawn(eddy_server::server::run_with(listener, engine.clone(), shutdown_rx, security));
    wait_for_signal().await;
    tracing::info!("shutting down: stopping queries, flushing output, committing offsets");
    let _ = shutdown_tx.send(true);
    let _ = server.await;
    if let Some(http) = http_server {
        let _ = http.await;
    }
    engine.shutdown().await;
    tracing::info!("bye");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
