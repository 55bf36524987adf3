//! Binding endpoints: `GET /api/bindings[/{vhost}]`, and between two ends
//! `GET/POST /api/bindings/{vhost}/e/{source}/{q|e}/{destination}` and
//! `GET/DELETE .../{properties_key}`.
//!
//! A binding is named by its properties key as RabbitMQ forms it: `~` for no routing key
//! and no arguments, the (URL-quoted) routing key when there are no arguments, otherwise
//! the routing key, `~` and a hash of the arguments.

use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::json::{JsonBody, table};
use super::paging::ListQuery;
use super::{AppState, find_vhost, listed_vhosts, short_name};
use crate::broker::exchange::{Binding, Destination};
use crate::broker::vhost::{VHost, is_reply_address};
use crate::protocol::ShortStr;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// How the API names the default exchange in paths.
const DEFAULT_EXCHANGE: &str = "amq.default";

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/bindings", get(list_all))
        .route("/bindings/{vhost}", get(list_vhost))
        .route(
            "/bindings/{vhost}/e/{source}/{kind}/{destination}",
            get(between).post(create),
        )
        .route(
            "/bindings/{vhost}/e/{source}/{kind}/{destination}/{props}",
            get(show).delete(remove),
        )
}

/// One binding with its source exchange's name.
#[derive(Debug, Clone)]
pub(super) struct SourcedBinding {
    /// The source exchange.
    pub(super) source: ShortStr,
    /// The binding.
    pub(super) binding: Binding,
}

impl SourcedBinding {
    /// As the API shows it.
    pub(super) fn render(&self, vhost: &VHost) -> Value {
        let (dest, kind) = match &self.binding.destination {
            Destination::Queue(n) => (n, "queue"),
            Destination::Exchange(n) => (n, "exchange"),
        };
        let key = self.binding.routing_key.to_string_lossy();
        json!({
            "source": self.source.to_string_lossy(),
            "vhost": &*vhost.name,
            "destination": dest.to_string_lossy(),
            "destination_type": kind,
            "routing_key": key,
            "arguments": table(&self.binding.arguments),
            "properties_key": properties_key(&key, &self.binding.arguments),
        })
    }
}

/// The default exchange's implicit binding to `queue`.
pub(super) fn default_binding(vhost: &VHost, queue: &ShortStr) -> Value {
    let name = queue.to_string_lossy();
    json!({
        "source": "",
        "vhost": &*vhost.name,
        "destination": name,
        "destination_type": "queue",
        "routing_key": name,
        "arguments": {},
        "properties_key": properties_key(&name, &crate::protocol::FieldTable::new()),
    })
}

/// Every explicit binding of the vhost, by source exchange name.
pub(super) fn all_bindings(vhost: &VHost) -> Vec<SourcedBinding> {
    let mut exchanges = vhost.exchanges();
    exchanges.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    exchanges
        .iter()
        .flat_map(|x| {
            let source = x.name.clone();
            x.router
                .read()
                .bindings()
                .into_iter()
                .map(move |binding| SourcedBinding {
                    source: source.clone(),
                    binding,
                })
        })
        .collect()
}

/// RabbitMQ's URL quoting of a binding key (`quote_plus`, then `~` as `%7E`).
fn quote(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' => out.push(char::from(b)),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The name RabbitMQ's API gives a binding within its two ends.
pub fn properties_key(routing_key: &str, arguments: &crate::protocol::FieldTable) -> String {
    if arguments.is_empty() {
        if routing_key.is_empty() {
            return "~".to_string();
        }
        return quote(routing_key);
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    table(arguments).to_string().hash(&mut hasher);
    let hash =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finish().to_be_bytes());
    format!("{}~{}", quote(routing_key), quote(&hash))
}

/// Decodes `%XX` escapes once (bytes that do not form an escape are kept as they are).
fn unquote(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn listing(vhosts: &[Arc<VHost>]) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for v in vhosts {
        let mut queues: Vec<_> = v
            .queues()
            .into_iter()
            .filter(|q| !is_reply_address(q.name()))
            .collect();
        queues.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
        for q in queues {
            out.push((
                v.name.to_string(),
                String::new(),
                default_binding(v, q.name()),
            ));
        }
        for b in all_bindings(v) {
            out.push((
                v.name.to_string(),
                b.source.to_string_lossy().into_owned(),
                b.render(v),
            ));
        }
    }
    out
}

fn respond(params: &HashMap<String, String>, vhosts: &[Arc<VHost>]) -> ApiResult<Json<Value>> {
    let query = ListQuery::parse(params)?;
    let mut items = listing(vhosts);
    // A stable listing: the name filter and paging look at the source exchange.
    items.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    query
        .respond(
            items,
            |(v, s, _)| (v.as_str(), s.as_str()),
            |(_, _, b)| b.clone(),
        )
        .map(Json)
}

async fn list_all(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    respond(&params, &listed_vhosts(&state, &principal, None)?)
}

async fn list_vhost(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(vhost): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    respond(&params, &listed_vhosts(&state, &principal, Some(&vhost))?)
}

/// Resolves the two ends of a binding path: 404 when either is missing.
fn ends(
    state: &AppState,
    principal: &Principal,
    vhost: &str,
    source: &str,
    kind: &str,
    destination: &str,
) -> ApiResult<(Arc<VHost>, ShortStr, Destination)> {
    let v = find_vhost(state, principal, vhost)?;
    let source = short_name(source)?;
    let dest_name = short_name(destination)?;
    if source.is_empty() || v.exchange(&source).is_none() {
        return Err(ApiError::NotFound);
    }
    let dest = match kind {
        "q" => {
            v.queue_or_404(&dest_name).map_err(|_| ApiError::NotFound)?;
            Destination::Queue(dest_name)
        }
        "e" => {
            v.exchange(&dest_name).ok_or(ApiError::NotFound)?;
            Destination::Exchange(dest_name)
        }
        _ => return Err(ApiError::NotFound),
    };
    Ok((v, source, dest))
}

fn bindings_between(v: &VHost, source: &ShortStr, dest: &Destination) -> Vec<SourcedBinding> {
    all_bindings(v)
        .into_iter()
        .filter(|b| &b.source == source && &b.binding.destination == dest)
        .collect()
}

async fn between(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, source, kind, destination)): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    if source == DEFAULT_EXCHANGE {
        // The default exchange's implicit binding, listed as RabbitMQ lists it: for any
        // queue name, existing or not; never to an exchange.
        let v = find_vhost(&state, &principal, &vhost)?;
        return match kind.as_str() {
            "q" => Ok(Json(json!([default_binding(
                &v,
                &short_name(&destination)?
            )]))),
            "e" => Ok(Json(json!([]))),
            _ => Err(ApiError::NotFound),
        };
    }
    let (v, source, dest) = ends(&state, &principal, &vhost, &source, &kind, &destination)?;
    Ok(Json(Value::Array(
        bindings_between(&v, &source, &dest)
            .iter()
            .map(|b| b.render(&v))
            .collect(),
    )))
}

/// `POST .../e/{source}/{q|e}/{destination}` with `routing_key` and `arguments`: 201
/// with the new binding's properties key in `Location`.
async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, source, kind, destination)): Path<(String, String, String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    if source == DEFAULT_EXCHANGE {
        // Binding to the default exchange is refused, as RabbitMQ refuses it.
        return Err(ApiError::NotAuthorised("Access refused.".to_string()));
    }
    let (v, source, dest) = ends(&state, &principal, &vhost, &source, &kind, &destination)?;
    let routing_key = match body.get("routing_key") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "routing_key must be a string, got {other}"
            )));
        }
    };
    let key = ShortStr::from_bytes(bytes::Bytes::copy_from_slice(routing_key.as_bytes()))
        .ok_or_else(|| ApiError::BadRequest("routing_key is longer than 255 bytes".into()))?;
    let arguments = super::queues::arguments_field(&body)?;
    v.bind(&source, dest, &key, &arguments, 0)?;
    let location = properties_key(&routing_key, &arguments);
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

fn find_binding(
    state: &AppState,
    principal: &Principal,
    path: &(String, String, String, String, String),
) -> ApiResult<(Arc<VHost>, SourcedBinding)> {
    let (vhost, source, kind, destination, props) = path;
    let (v, source, dest) = ends(state, principal, vhost, source, kind, destination)?;
    // As RabbitMQ, the key's routing-key part is compared unquoted: clients such as
    // rabbitmqadmin send `a.%2A` (the path then reads `a.*`) for the listed key `a.%2A`.
    let wanted = unquote(props);
    let found = bindings_between(&v, &source, &dest).into_iter().find(|b| {
        unquote(&properties_key(
            &b.binding.routing_key.to_string_lossy(),
            &b.binding.arguments,
        )) == wanted
    });
    found.map(|b| (v, b)).ok_or(ApiError::NotFound)
}

async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    let (v, b) = find_binding(&state, &principal, &path)?;
    Ok(Json(b.render(&v)))
}

async fn remove(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<StatusCode> {
    let (v, b) = find_binding(&state, &principal, &path)?;
    v.unbind(
        &b.source,
        b.binding.destination.clone(),
        &b.binding.routing_key,
        &b.binding.arguments,
        0,
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bindings where the exchange `name` is the source (`true`) or the destination.
pub(super) fn exchange_bindings(v: &VHost, name: &ShortStr, as_source: bool) -> Value {
    let dest = Destination::Exchange(name.clone());
    Value::Array(
        all_bindings(v)
            .into_iter()
            .filter(|b| {
                if as_source {
                    &b.source == name
                } else {
                    b.binding.destination == dest
                }
            })
            .map(|b| b.render(v))
            .collect(),
    )
}
