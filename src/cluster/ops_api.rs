//! Cluster operations through the management API, under `/api/warren/` (RabbitMQ has no
//! such endpoints, and no RabbitMQ path starts so):
//!
//! - `GET /api/warren/cluster`: this node's view, the JSON of
//!   `warren cluster status --json` (monitoring tag). A follower answers it itself.
//! - `DELETE /api/warren/cluster/members/{id}`: removes a member (administrator); 204, or 404
//!   when there is no such member.
//! - `PUT /api/warren/cluster/members/{id}` with `{"cluster": "host:port", "amqp":
//!   "host:port"}`: adds a running node with an empty data directory, as a learner that
//!   catches up and then a voter (administrator); 201, 409 if it is already a voter.
//!
//! Changes are made by the leader: a follower forwards them there like any other request.
//! Refusals are the API's usual 401 (tags), 400 (bad id or body) and 503 (no leader).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;

use super::membership;
use super::network::rpc::RpcResponse;
use super::status::Status;
use super::types::{Node, NodeId};
use super::view::ClusterView;
use crate::management::auth::Principal;
use crate::management::error::{ApiError, ApiResult};

/// The routes, over `view`, for a router of any state (authenticated by the enclosing one).
pub fn routes<S: Clone + Send + Sync + 'static>(view: Arc<ClusterView>) -> Router<S> {
    Router::new()
        .route("/warren/cluster", get(status))
        .route(
            "/warren/cluster/members/{id}",
            axum::routing::delete(remove).put(join),
        )
        .with_state(view)
}

/// `GET /api/warren/cluster`.
async fn status(
    State(view): State<Arc<ClusterView>>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Json<Status>> {
    principal.require_monitor()?;
    Ok(Json(view.status()))
}

fn node_id(text: &str) -> Result<NodeId, ApiError> {
    match text.parse::<NodeId>() {
        Ok(id) if id >= 1 => Ok(id),
        _ => Err(ApiError::BadRequest(format!(
            "{text:?} is not a node id (an integer >= 1)"
        ))),
    }
}

/// What a membership call answered, as HTTP.
fn answered(response: RpcResponse, done: StatusCode) -> ApiResult<StatusCode> {
    match response {
        RpcResponse::Done => Ok(done),
        RpcResponse::NotLeader { leader, .. } => Err(ApiError::Unavailable(format!(
            "this node is not the leader (leader: {leader:?}); try again"
        ))),
        RpcResponse::Refused(reason) => Err(ApiError::Conflict(reason)),
        _ => Err(ApiError::Internal("unexpected membership answer".into())),
    }
}

/// `DELETE /api/warren/cluster/members/{id}`.
async fn remove(
    State(view): State<Arc<ClusterView>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_administrator()?;
    let id = node_id(&id)?;
    if !view.members().iter().any(|m| m.id == id) {
        return Err(ApiError::NotFound);
    }
    tracing::info!(id, user = %principal.name, "cluster: member removal asked through the API");
    answered(
        membership::remove(view.node().raft(), id).await,
        StatusCode::NO_CONTENT,
    )
}

/// The body of a join.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinBody {
    /// The new node's cluster port (as every member may dial it).
    cluster: String,
    /// Its AMQP listener.
    #[serde(default)]
    amqp: String,
}

/// `PUT /api/warren/cluster/members/{id}`.
async fn join(
    State(view): State<Arc<ClusterView>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    principal.require_administrator()?;
    let id = node_id(&id)?;
    let body: JoinBody = serde_json::from_slice(&body).map_err(|_| ApiError::not_json())?;
    if body.cluster.rsplit_once(':').is_none() {
        return Err(ApiError::BadRequest(format!(
            "cluster: {:?} is not host:port",
            body.cluster
        )));
    }
    tracing::info!(id, user = %principal.name, "cluster: join asked through the API");
    let node = Node {
        cluster: body.cluster,
        amqp: body.amqp,
    };
    answered(
        membership::join(view.node().raft(), id, node).await,
        StatusCode::CREATED,
    )
}
