//! Connection startup: protocol negotiation, authentication, and the server parameters Postgres
//! reports (one `server_version` everywhere).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::cleartext::CleartextPasswordAuth;
use pgwire::api::auth::mechanism::{AuthMechanism, AuthMechanismFactory, AuthState};
use pgwire::api::auth::sasl::scram::ScramAuth;
use pgwire::api::auth::{
    protocol_negotiation, save_startup_parameters_to_metadata, AuthDriver, AuthOutcome, AuthSource,
    ServerParameterProvider,
};
use pgwire::api::{ClientInfo, ConnectionManager};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::PasswordMessageFamily;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::auth::{AuthMethod, Users};
use super::limits::ConnectionSlots;
use crate::session::settings::{Settings, GUCS};

/// The settings Postgres reports at startup, with the values a new session of this client has.
#[derive(Debug, Default)]
pub struct ServerParameters;

impl ServerParameterProvider for ServerParameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let metadata = client.metadata();
        let mut settings = Settings::for_user(metadata.get("user").map(String::as_str).unwrap_or("eddy"));
        for (name, value) in metadata {
            let _ = settings.set(name, Some(value));
        }
        Some(
            GUCS.iter()
                .filter(|g| g.reported)
                .filter_map(|g| Some((g.name.to_string(), settings.get(g.name).ok()?)))
                .collect(),
        )
    }
}

/// Trust: the client is who it says it is.
struct Trust;

#[async_trait]
impl AuthMechanism for Trust {
    async fn begin(&mut self, _client: &(dyn ClientInfo + Send + Sync)) -> PgWireResult<AuthState> {
        Ok(AuthState::Ok { final_message: None, identity: None })
    }

    async fn next(
        &mut self,
        _client: &(dyn ClientInfo + Send + Sync),
        _message: PasswordMessageFamily,
    ) -> PgWireResult<AuthState> {
        Ok(AuthState::Ok { final_message: None, identity: None })
    }
}

/// Reports a failed login as Postgres does: FATAL 28P01 `password authentication failed for user
/// "NAME"`, naming the startup user (SCRAM clients leave the user out of their messages), and the
/// same for unknown users so that a client cannot probe which users exist.
struct PostgresFailures(Box<dyn AuthMechanism>);

impl PostgresFailures {
    fn reword(client: &(dyn ClientInfo + Send + Sync), result: PgWireResult<AuthState>) -> PgWireResult<AuthState> {
        let failed = |e: PgWireError| match e {
            PgWireError::InvalidPassword(_) => {
                let user = client.metadata().get("user").cloned().unwrap_or_default();
                PgWireError::UserError(Box::new(ErrorInfo::new(
                    "FATAL".into(),
                    "28P01".into(),
                    format!("password authentication failed for user \"{user}\""),
                )))
            }
            other => other,
        };
        match result {
            Ok(AuthState::Failed(e)) => Ok(AuthState::Failed(failed(e))),
            Err(e) => Err(failed(e)),
            ok => ok,
        }
    }
}

#[async_trait]
impl AuthMechanism for PostgresFailures {
    async fn begin(&mut self, client: &(dyn ClientInfo + Send + Sync)) -> PgWireResult<AuthState> {
        let result = self.0.begin(client).await;
        Self::reword(client, result)
    }

    async fn next(
        &mut self,
        client: &(dyn ClientInfo + Send + Sync),
        message: PasswordMessageFamily,
    ) -> PgWireResult<AuthState> {
        let result = self.0.next(client, message).await;
        Self::reword(client, result)
    }
}

/// Starts connections.
pub struct StartupHandler {
    driver: Arc<AuthDriver<Arc<ServerParameters>>>,
    method: AuthMethod,
    users: Arc<Users>,
    /// Connected clients, bounded by `max_connections`. A connection takes its slot with its
    /// startup packet (after TLS negotiation, where Postgres refuses with 53300 and clients expect
    /// it), so sockets that never start a session (or cancel requests) hold none.
    slots: Arc<ConnectionSlots>,
    /// Settings every session starts with unless the client sets them (the server's defaults).
    defaults: Arc<Vec<(String, String)>>,
}

impl StartupHandler {
    /// A handler registering connections with `manager` (for cancel requests), authenticating
    /// clients by `method` against `users`. Sessions start with `defaults` (setting, value) unless
    /// the client sets them; at most as many at once as `slots` allows.
    pub fn new(
        manager: Arc<ConnectionManager>,
        method: AuthMethod,
        users: Arc<Users>,
        defaults: Vec<(String, String)>,
        slots: Arc<ConnectionSlots>,
    ) -> Self {
        let driver = AuthDriver::new(Arc::new(ServerParameters)).with_connection_manager(manager);
        Self { driver: Arc::new(driver), method, users, slots, defaults: Arc::new(defaults) }
    }

    fn mechanism(&self) -> Box<dyn AuthMechanism> {
        let inner = match self.method {
            AuthMethod::Trust => return Box::new(Trust),
            AuthMethod::Password => CleartextPasswordAuth::new(self.users.clone()).create(),
            AuthMethod::ScramSha256 => ScramAuth::new(self.users.clone() as Arc<dyn AuthSource>).create(),
        };
        Box::new(PostgresFailures(inner))
    }
}

#[async_trait]
impl pgwire::api::auth::StartupHandler for StartupHandler {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self.start(client, message).await {
            // Postgres ends the connection right after a FATAL error, with no ReadyForQuery (which
            // pgwire would send, and asyncpg chokes on): send it here and close.
            Err(e) if e.is_fatal() => {
                let info: ErrorInfo = e.into();
                client.send(PgWireBackendMessage::ErrorResponse(info.into())).await?;
                SinkExt::close(client).await?;
                Ok(())
            }
            other => other,
        }
    }
}

impl StartupHandler {
    async fn start<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let outcome = match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                // Postgres refuses a startup packet without a user (postmaster.c).
                if startup.parameters.get("user").is_none_or(|u| u.is_empty()) {
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        "FATAL".into(),
                        "28000".into(),
                        "no PostgreSQL user name specified in startup packet".into(),
                    ))));
                }
                save_startup_parameters_to_metadata(client, startup);
                for (name, value) in self.defaults.iter() {
                    client.metadata_mut().entry(name.clone()).or_insert_with(|| value.clone());
                }
                // The slot is given back when the connection (and its extensions) ends.
                let Some(slot) = self.slots.take() else {
                    let message = "sorry, too many clients already".to_string();
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        "FATAL".into(),
                        "53300".into(),
                        message,
                    ))));
                };
                client.session_extensions().insert(slot);
                self.driver.begin_authentication(client, self.mechanism()).await?
            }
            PgWireFrontendMessage::PasswordMessageFamily(password) => {
                self.driver.advance_authentication(client, password).await?
            }
            _ => return Ok(()),
        };
        match outcome {
            AuthOutcome::InProgress => Ok(()),
            AuthOutcome::Authenticated { final_message, .. } => {
                self.driver.complete_authentication(client, final_message).await
            }
        }
    }
}
