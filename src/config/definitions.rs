//! The `[definitions]` section: definitions applied at every start-up (RabbitMQ's
//! `load_definitions`).

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The `[definitions]` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefinitionsSettings {
    /// A definitions JSON file, or a directory whose `*.json` files are applied in name
    /// order, imported after the store opens and before clients are accepted; empty (the
    /// default) loads nothing.
    pub load_file: PathBuf,
}

impl DefinitionsSettings {
    /// The path to load, when one is set.
    pub fn path(&self) -> Option<&Path> {
        (!self.load_file.as_os_str().is_empty()).then_some(self.load_file.as_path())
    }
}
