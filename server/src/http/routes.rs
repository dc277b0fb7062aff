//! The HTTP routes: `/metrics` (Prometheus), `/healthcheck` and `/info` (ksqlDB's shapes), with
//! the Postgres listener's users when it authenticates them (HTTP Basic, RFC 7617).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::json;

use crate::engine::Engine;
use crate::wire::{open_sessions, AuthMethod, Users};

/// How long `/healthcheck` waits for the broker to answer.
const BROKER_CHECK: Duration = Duration::from_secs(5);

/// What the routes read.
#[derive(Clone)]
pub struct HttpState {
    pub engine: Arc<Engine>,
    /// `trust`: no credentials asked; otherwise HTTP Basic against `users`.
    pub auth: AuthMethod,
    pub users: Arc<Users>,
    pub service_id: String,
}

/// The routes over `state`.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthcheck", get(healthcheck))
        .route("/info", get(info))
        .fallback(not_found)
        .with_state(state)
}

/// ksqlDB's error body.
fn error(status: StatusCode, message: &str) -> Response {
    let code = u32::from(status.as_u16()) * 100;
    (status, Json(json!({"@type": "generic_error", "error_code": code, "message": message}))).into_response()
}

/// Refuses a request without the credentials of a configured user, unless the server trusts
/// everyone (loopback only).
fn authorize(state: &HttpState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    authorize_with(state.auth, &state.users, headers)
}

fn authorize_with(auth: AuthMethod, users: &Users, headers: &HeaderMap) -> Result<(), Box<Response>> {
    if auth == AuthMethod::Trust {
        return Ok(());
    }
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match credentials.as_deref().and_then(|c| c.split_once(':')) {
        Some((user, password)) if users.verifies(user, password) => Ok(()),
        _ => {
            let mut refused = error(StatusCode::UNAUTHORIZED, "Unauthorized");
            if let Ok(challenge) = "Basic realm=\"Eddy\"".parse() {
                refused.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
            }
            Err(Box::new(refused))
        }
    }
}

async fn metrics(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if let Err(refused) = authorize(&state, &headers) {
        return *refused;
    }
    match super::encode_metrics(state.engine.status().await, open_sessions()) {
        Ok(text) => ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
            .into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the metrics could not be encoded"),
    }
}

/// ksqlDB's health check: the catalog, the broker and the command runner; 503 when unhealthy.
async fn healthcheck(State(state): State<HttpState>) -> Response {
    let kafka = tokio::time::timeout(BROKER_CHECK, state.engine.broker_answers()).await.unwrap_or(false);
    let body = json!({
        "isHealthy": kafka,
        "details": {
            "metastore": {"isHealthy": true},
            "kafka": {"isHealthy": kafka},
            "commandRunner": {"isHealthy": true},
        },
    });
    let status = if kafka { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// ksqlDB's server info.
async fn info(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if let Err(refused) = authorize(&state, &headers) {
        return *refused;
    }
    Json(json!({
        "KsqlServerInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "ksqlServiceId": state.service_id,
            "serverStatus": "RUNNING",
        }
    }))
    .into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "HTTP 404 Not Found")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::wire::Verifier;

    #[test]
    fn with_password_auth_only_a_configured_user_gets_in() {
        let entries = BTreeMap::from([("ann".to_string(), Verifier::new("s3cret").to_string())]);
        let users = Users::from_entries(&entries).expect("users");
        let basic = |credentials: &str| {
            let mut headers = HeaderMap::new();
            let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials));
            headers.insert(header::AUTHORIZATION, value.parse().expect("header"));
            headers
        };
        assert!(authorize_with(AuthMethod::ScramSha256, &users, &basic("ann:s3cret")).is_ok());
        for refused in [basic("ann:wrong"), basic("bob:s3cret"), basic("no colon"), HeaderMap::new()] {
            let response = authorize_with(AuthMethod::Password, &users, &refused).expect_err("refused");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        }
        assert!(authorize_with(AuthMethod::Trust, &users, &HeaderMap::new()).is_ok());
    }
}
