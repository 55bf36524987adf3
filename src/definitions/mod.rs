//! Definitions: the broker's users, vhosts, permissions, limits, policies, exchanges, queues
//! and bindings as one JSON document in RabbitMQ 3.10's format, exported and imported
//! whole or for one vhost, so topologies move between RabbitMQ and Warren both ways.
//!
//! - [`model`]: the document's types (RabbitMQ's field names, order and JSON types).
//! - [`export`](mod@export): the broker → a document.
//! - [`validate`]: a document → a checked [`validate::Plan`], or the first problem; nothing
//!   is applied when the document is refused.
//! - [`import`](mod@import): applies a plan through the broker's own creation paths.
//! - [`load`]: the `definitions.load_file` setting, applied at start-up.
//!
//! Message contents are never part of definitions.

pub mod export;
pub mod import;
pub mod load;
pub mod model;
pub mod validate;

use crate::broker::Broker;
pub use export::export;
pub use import::Summary;
pub use model::Definitions;

/// What a document covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// The whole broker (`/api/definitions`).
    Broker,
    /// One vhost (`/api/definitions/{vhost}`): its parameters, policies, queues, exchanges
    /// and bindings.
    VHost(&'a str),
}

/// Why a document was refused or could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionsError {
    /// The bytes are not a JSON object (RabbitMQ's `failed_to_parse_json`).
    #[error("failed_to_parse_json")]
    NotJson,
    /// JSON, but a field has the wrong type or a required one is missing.
    #[error("{0}")]
    Shape(String),
    /// A value RabbitMQ would refuse, or a reference to a vhost or user that exists
    /// neither in the broker nor in the document.
    #[error("{0}")]
    Invalid(String),
    /// The document was valid but a change failed while it was applied.
    #[error("{0}")]
    Apply(String),
}

/// Parses a document: a UTF-8 byte-order mark is skipped and an empty body is an empty
/// document, as in RabbitMQ.
pub fn parse(body: &[u8]) -> Result<Definitions, DefinitionsError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Ok(Definitions::default()),
        Some(b'{') => {}
        Some(_) => return Err(DefinitionsError::NotJson),
    }
    match serde_json::from_slice::<Definitions>(body) {
        Ok(doc) => Ok(doc),
        Err(e) if e.is_data() => Err(DefinitionsError::Shape(e.to_string())),
        Err(_) => Err(DefinitionsError::NotJson),
    }
}

/// Imports `body` into `broker` for `scope`: parses, validates everything, then applies.
/// Imports are serialised so two cannot interleave their checks and changes.
pub fn import(broker: &Broker, scope: Scope<'_>, body: &[u8]) -> Result<Summary, DefinitionsError> {
    static IMPORTS: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    let span = tracing::info_span!("definitions_import", ?scope, bytes = body.len());
    let _enter = span.enter();
    let doc = parse(body)?;
    let _serial = IMPORTS.lock();
    let plan = validate::validate(broker, scope, doc)?;
    let summary = import::apply(broker, plan)?;
    tracing::info!(?summary, "definitions imported");
    Ok(summary)
}
