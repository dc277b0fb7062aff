//! Queries on the SQL engine: a session's context, made at its first SQL query; Postgres SQL text
//! planned and run there; and the choice between Eddy's pull queries and full SQL.

use datafusion::prelude::SessionContext;
use eddy_parser::Select;
use eddy_planner::{plan_pull, PlanErrorKind};

use super::error::{sqlstate, EngineError};
use super::{Engine, Output, Session};
use crate::sql::{self, SessionIdentity, SqlPlan};

impl Engine {
    /// The session's SQL context.
    pub(crate) fn sql_context(&self, session: &mut Session) -> Result<SessionContext, EngineError> {
        if let Some(ctx) = &session.sql {
            return Ok(ctx.clone());
        }
        let identity = SessionIdentity {
            user: session.user.clone(),
            database: session.database.clone(),
            settings: session.settings.clone(),
        };
        let ctx = self.sql.session(identity).map_err(|e| sql::sql_error(e, None))?;
        session.sql = Some(ctx.clone());
        Ok(ctx)
    }

    /// Plans one statement of Postgres SQL.
    pub(crate) async fn sql_plan(&self, session: &mut Session, text: &str) -> Result<SqlPlan, EngineError> {
        self.sql_plan_with(session, text, &[]).await
    }

    /// Plans one statement of Postgres SQL whose parameters have the types the client declared.
    pub(crate) async fn sql_plan_with(
        &self,
        session: &mut Session,
        text: &str,
        declared: &[Option<pgwire::api::Type>],
    ) -> Result<SqlPlan, EngineError> {
        let mut statements = sql::parse(text)?;
        let (Some(statement), true) = (statements.pop(), statements.is_empty()) else {
            return Err(EngineError::new(
                sqlstate::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            ));
        };
        let ctx = self.sql_context(session)?;
        sql::plan(&ctx, &session.database, statement, text, declared).await
    }

    /// Runs one statement of Postgres SQL.
    pub(crate) async fn sql_text(&self, session: &mut Session, text: &str) -> Result<Output, EngineError> {
        let plan = self.sql_plan(session, text).await?;
        self.sql_run(session, &plan, Vec::new()).await
    }

    /// Runs a planned statement with parameter values.
    pub(crate) async fn sql_run(
        &self,
        session: &mut Session,
        plan: &SqlPlan,
        params: Vec<datafusion::common::ScalarValue>,
    ) -> Result<Output, EngineError> {
        let ctx = self.sql_context(session)?;
        let (schema, batches) = sql::execute(&ctx, plan, params).await?;
        Ok(Output::Batches { schema, batches })
    }

    /// A SELECT of Eddy's grammar: a push query; a pull query of ksqlDB's shape (ksqlDB's results),
    /// or else, when ksqlDB would refuse it for a pull query (JOIN, GROUP BY, ...), full SQL.
    pub(super) async fn select(
        &self,
        session: &mut Session,
        select: &Select,
        text: &str,
        offset: usize,
    ) -> Result<Output, EngineError> {
        if select.emit.is_some() {
            return self.push_query(session, select, text).await;
        }
        // Planned against the published catalog: pull queries take no engine lock.
        let catalog = self.published.borrow().clone();
        let planned = plan_pull(select, &catalog, super::pull::pull_options(session)).map_err(EngineError::plan);
        match planned {
            Ok(plan) => self.run_pull(&plan, &plan.access, select.limit).await,
            // Full SQL answers what ksqlDB refuses in a pull query, and reads pg_catalog and
            // information_schema, which are not Eddy's sources.
            Err(e) if e.is_pull_unsupported() || e.plan_kind == Some(PlanErrorKind::UnknownSource) => {
                match self.sql_text(session, text).await {
                    Ok(output) => Ok(output),
                    // What neither reads: ksqlDB's refusal says what ksqlDB would.
                    Err(sql) if sql.sqlstate == sqlstate::SYNTAX_ERROR || sql.sqlstate == sqlstate::UNDEFINED_TABLE => {
                        Err(e)
                    }
                    Err(sql) => Err(sql.shifted(offset)),
                }
            }
            Err(e) => Err(e),
        }
    }
}
