//! The snapshot format: every replicated record of the store at one applied log id.
//! Today that is the definitions; the durable-queue messages join them when messages are
//! replicated (then as a compacted copy of the store file rather than a list, so its cost
//! follows the live backlog).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::entry::{ClusterOp, DefKind};
use crate::store::{Store, StoreError};

/// Version of [`SnapshotBody`]'s layout.
pub const SNAPSHOT_VERSION: u8 = 1;

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes are not a snapshot of this format.
    #[error("snapshot data does not decode: {0}")]
    Decode(#[from] postcard::Error),
    /// A snapshot of a version this build does not read.
    #[error("snapshot format version {0} is not supported (this build reads {SNAPSHOT_VERSION})")]
    Version(u8),
}

/// The replicated state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotBody {
    /// [`SNAPSHOT_VERSION`].
    pub version: u8,
    /// Every definition as `(kind, key, value)`.
    pub definitions: Vec<(DefKind, Vec<u8>, Vec<u8>)>,
}

impl SnapshotBody {
    /// Reads the replicated state of `store` (short read transactions).
    pub fn read(store: &Store) -> Result<SnapshotBody, StoreError> {
        let mut definitions = Vec::new();
        for kind in DefKind::ALL {
            for (key, value) in store.definitions(kind.store_kind())? {
                definitions.push((kind, key, value));
            }
        }
        Ok(SnapshotBody {
            version: SNAPSHOT_VERSION,
            definitions,
        })
    }

    /// Encodes the body.
    pub fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }

    /// Decodes and checks a body.
    pub fn decode(data: &[u8]) -> Result<SnapshotBody, SnapshotError> {
        let body: SnapshotBody = postcard::from_bytes(data)?;
        if body.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version(body.version));
        }
        Ok(body)
    }
}

/// The ops that make the store's definitions exactly those of `body`: delete the others,
/// write these. Blocking (reads the store): call from a blocking thread.
pub fn replacing_ops(store: &Store, body: &SnapshotBody) -> Result<Vec<ClusterOp>, StoreError> {
    let wanted: HashSet<(DefKind, &[u8])> = body
        .definitions
        .iter()
        .map(|(kind, key, _)| (*kind, key.as_slice()))
        .collect();
    let mut ops = Vec::new();
    for kind in DefKind::ALL {
        for (key, _) in store.definitions(kind.store_kind())? {
            if !wanted.contains(&(kind, key.as_slice())) {
                ops.push(ClusterOp::DeleteDefinition { kind, key });
            }
        }
    }
    for (kind, key, value) in &body.definitions {
        ops.push(ClusterOp::PutDefinition {
            kind: *kind,
            key: key.clone(),
            value: value.clone(),
        });
    }
    Ok(ops)
}
