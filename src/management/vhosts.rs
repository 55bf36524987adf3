//! The vhosts endpoints.

use super::AppState;
use axum::Router;

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
