//! Eddy's planner: resolves names and types against the catalog and turns statements into
//! runtime dataflows with ksqlDB's key, naming and typing rules.

mod aggregation;
mod error;
mod expr;
mod join;
mod lambda;
mod pull;
mod pull_keys;
mod pull_template;
mod query;
mod scope;
mod sources;
mod table_functions;
mod time_literals;
mod types;

pub use aggregation::MAX_WINDOWS_PER_RECORD;
pub use error::{PlanError, PlanErrorKind, Result};
pub use expr::{evaluate_constant, ExprPlanner, Typed};
pub use pull::{plan_pull, PullPlan};
pub use pull_keys::{exact_lookup, format_expr, KeyAccess, PullOptions};
pub use pull_template::PullTemplate;
pub use query::{plan_persistent, plan_push, OutputColumn, PersistentPlan, PlannedQuery, SinkRequest};
pub use scope::Scope;
pub use sources::{build_source, source_spec};
