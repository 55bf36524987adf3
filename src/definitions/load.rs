//! `definitions.load_file` (RabbitMQ's `load_definitions`): a JSON file, or a directory
//! whose `*.json` files are applied in name order, imported for the whole broker at every
//! start-up, after the store opens and before any listener accepts a client. Importing is
//! idempotent, so applying the same files at each start changes nothing the second time.

use super::{DefinitionsError, Scope};
use crate::broker::Broker;
use std::path::{Path, PathBuf};

/// Why the start-up definitions could not be loaded; the message names the setting, the
/// file and the reason.
#[derive(Debug, thiserror::Error)]
#[error("definitions.load_file: cannot load {}: {reason}", path.display())]
pub struct LoadError {
    /// The file (or directory) that failed.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

fn error(path: &Path, reason: impl std::fmt::Display) -> LoadError {
    LoadError {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The files `path` stands for: itself, or a directory's `*.json` files by name.
fn files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let meta = std::fs::metadata(path).map_err(|e| error(path, e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| error(path, e))? {
        let file = entry.map_err(|e| error(path, e))?.path();
        if file.extension().is_some_and(|e| e == "json") && file.is_file() {
            out.push(file);
        }
    }
    out.sort();
    Ok(out)
}

/// Applies the definitions at `path` to `broker`; returns how many files were applied.
pub fn load(broker: &Broker, path: &Path) -> Result<usize, LoadError> {
    let files = files(path)?;
    for file in &files {
        let body = std::fs::read(file).map_err(|e| error(file, e))?;
        match super::import(broker, Scope::Broker, &body) {
            Ok(summary) => {
                tracing::info!(file = %file.display(), ?summary, "definitions loaded");
            }
            Err(DefinitionsError::NotJson) => {
                return Err(error(file, "not a JSON object (failed_to_parse_json)"));
            }
            Err(e) => return Err(error(file, e)),
        }
    }
    Ok(files.len())
}
