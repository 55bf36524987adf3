//! The Prometheus endpoint (stub until the metrics step).

use crate::management::AppState;
use axum::Router;

/// The Prometheus endpoint's routes.
pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}
