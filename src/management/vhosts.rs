//! Virtual hosts, read-only: `GET /api/vhosts` and `GET /api/vhosts/{name}` with their
//! message counts (creating and deleting vhosts belongs to access control).

use super::auth::Principal;
use super::error::ApiResult;
use super::json::put_counter;
use super::paging::ListQuery;
use super::{AppState, find_vhost, listed_vhosts};
use crate::broker::vhost::VHost;
use crate::metrics::counters::queue as q;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/vhosts", get(list)).route(
        "/vhosts/{name}",
        get(show)
            .put(super::vhost_admin::put_vhost)
            .delete(super::vhost_admin::delete_vhost),
    )
}

fn render(v: &VHost) -> Value {
    let (mut ready, mut unacked) = (0u64, 0u64);
    for queue in v.queues() {
        ready += queue.stats.gauges.get(q::READY);
        unacked += queue.stats.gauges.get(q::UNACKED);
    }
    let description = if &*v.name == "/" {
        "Default virtual host"
    } else {
        ""
    };
    let mut out = json!({
        "name": &*v.name,
        "description": description,
        "tags": [],
        "metadata": {"description": description, "tags": []},
        "default_queue_type": "classic",
        "tracing": false,
        "cluster_state": {crate::broker::node_name(): "running"},
    });
    if let Some(map) = out.as_object_mut() {
        put_counter(map, "messages", ready + unacked, 0.0);
        put_counter(map, "messages_ready", ready, 0.0);
        put_counter(map, "messages_unacknowledged", unacked, 0.0);
    }
    out
}

async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let vhosts: Vec<Arc<VHost>> = listed_vhosts(&state, &principal, None)?;
    ListQuery::parse(&params)?
        .respond(vhosts, |v| ("", &*v.name), |v| render(v))
        .map(Json)
}

async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let vhost = find_vhost(&state, &principal, &name)?;
    Ok(Json(render(&vhost)))
}
