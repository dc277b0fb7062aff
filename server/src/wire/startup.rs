//! Connection startup: protocol negotiation, authentication, and the server parameters Postgres
//! reports (one `server_version` everywhere).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::mechanism::{AuthMechanism, AuthState};
use pgwire::api::auth::{
    protocol_negotiation, save_startup_parameters_to_metadata, AuthDriver, AuthOutcome, ServerParameterProvider,
};
use pgwire::api::{ClientInfo, ConnectionManager};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::PasswordMessageFamily;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

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

/// Starts connections.
pub struct StartupHandler {
    driver: AuthDriver<Arc<ServerParameters>>,
}

impl StartupHandler {
    /// A handler registering connections with `manager` (for cancel requests).
    pub fn new(manager: Arc<ConnectionManager>) -> Self {
        Self { driver: AuthDriver::new(Arc::new(ServerParameters)).with_connection_manager(manager) }
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
        let outcome = match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                self.driver.begin_authentication(client, Box::new(Trust)).await?
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
