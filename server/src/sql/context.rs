//! The SQL engine's contexts: one DataFusion state shared by the server (functions, type planning),
//! and per connection a context whose catalog is named after the connection's database and holds
//! `public` (Eddy's streams and tables), `pg_catalog` and `information_schema`.

use std::sync::{Arc, RwLock};

use datafusion::catalog::{CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList};
use datafusion::common::config::Dialect;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::FunctionRegistry as _;
use datafusion::execution::SessionState;
use datafusion::optimizer::{Analyzer, AnalyzerRule};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_pg_catalog::pg_catalog::{setup_pg_catalog, PgCatalogSchemaProvider, PgCatalogStaticTables};

use super::functions;
use super::information_schema::InformationSchema;
use super::pg_catalog::{EddyPgCatalog, KeyOids, Roles};
use super::relations::SourceRelations;
use super::unknown_literals::UnknownLiterals;
use crate::limits::MAX_QUERY_MEMORY_BYTES;
use crate::session::Settings;

/// Who a SQL session belongs to and its settings (shared with the session's functions).
#[derive(Debug, Clone)]
pub struct SessionIdentity {
    pub user: String,
    pub database: String,
    pub settings: Arc<RwLock<Settings>>,
}

/// What every SQL session shares: DataFusion's functions and planners with ksqlDB's and Postgres'
/// functions added, the `pg_catalog` rows that never change, and Eddy's relations.
pub struct SqlEngine {
    base: SessionState,
    relations: SourceRelations,
    pg_static: Arc<PgCatalogStaticTables>,
}

impl SqlEngine {
    /// The engine over Eddy's relations.
    pub fn new(relations: SourceRelations) -> Result<Self, DataFusionError> {
        let mut base = SessionContext::new_with_config(config("eddy"));
        base.register_catalog("eddy", Arc::new(MemoryCatalogProvider::new()));
        // Postgres' catalog functions and type names (`regclass`, ...), installed once.
        setup_pg_catalog(&base, "eddy", Roles::default()).map_err(|e| *e)?;
        functions::register_shared(&base);
        base.register_expr_planner(Arc::new(UnknownLiterals))?;
        let pg_static = Arc::new(PgCatalogStaticTables::try_new()?);
        // Postgres' reading of untyped literals goes before DataFusion's type coercion.
        let mut rules: Vec<Arc<dyn AnalyzerRule + Send + Sync>> = vec![Arc::new(UnknownLiterals)];
        rules.extend(Analyzer::new().rules);
        let base = SessionStateBuilder::new_from_existing(base.state()).with_analyzer_rules(rules).build();
        Ok(Self { base, relations, pg_static })
    }

    /// A connection's SQL session.
    pub fn session(&self, identity: SessionIdentity) -> Result<SessionContext, DataFusionError> {
        let catalogs: Arc<dyn CatalogProviderList> = Arc::new(MemoryCatalogProviderList::new());
        // Each session's queries draw on a memory pool of their own: one query cannot take the
        // server's memory (a `string_agg` over a generated series), nor starve other sessions.
        let runtime =
            RuntimeEnvBuilder::new().with_memory_limit(crate::limits::get(&MAX_QUERY_MEMORY_BYTES), 1.0).build_arc()?;
        let state = SessionStateBuilder::new_from_existing(self.base.clone())
            .with_config(config(&identity.database))
            .with_runtime_env(runtime)
            .with_catalog_list(catalogs.clone())
            .build();
        let ctx = SessionContext::new_with_state(state);
        let catalog = Arc::new(MemoryCatalogProvider::new());
        catalogs.register_catalog(identity.database.clone(), catalog.clone());
        catalog.register_schema("public", Arc::new(self.relations.clone()))?;
        let roles = Roles::of(&identity.user);
        let library = PgCatalogSchemaProvider::try_new(catalogs.clone(), self.pg_static.clone(), roles.clone())?;
        let keys = Arc::new(KeyOids::default());
        let pg_catalog = EddyPgCatalog::new(library, self.relations.clone(), identity.clone(), keys.clone());
        catalog.register_schema("pg_catalog", Arc::new(pg_catalog))?;
        catalog.register_schema(
            "information_schema",
            Arc::new(InformationSchema::new(self.relations.clone(), identity.clone())),
        )?;
        functions::register_session(&ctx, &identity, keys);
        Ok(ctx)
    }
}

/// DataFusion's configuration for Eddy: Postgres' dialect, plain UTF-8 strings, spans for errors.
fn config(database: &str) -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(database, "public")
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(false);
    let options = config.options_mut();
    options.sql_parser.dialect = Dialect::PostgreSQL;
    options.sql_parser.map_string_types_to_utf8view = false;
    options.sql_parser.collect_spans = true;
    options.execution.time_zone = Some("+00:00".into());
    // A relation is read as one partition (a view's rows, a stream's records); spreading it
    // round-robin over the cores costs more than it gains for pull-query sizes, and keeps plans the
    // same on every machine. Hash repartitioning still parallelizes large aggregates and joins.
    options.optimizer.enable_round_robin_repartition = false;
    config
}
