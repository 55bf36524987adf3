//! Loading: built-in defaults, then the config file, then `WARREN_<SECTION>__<KEY>`
//! environment variables, then command-line flags, merged into [`Settings`].

use super::{ConfigError, Settings, cli, listen};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The prefix of environment variables Warren reads, e.g. `WARREN_SERVER__LISTEN`.
pub const ENV_PREFIX: &str = "WARREN_";

/// Settings that hold a list and may be given in the environment as comma-separated values
/// (e.g. `WARREN_AUTH__VHOSTS=/,staging`). `auth.users` can only come from the file.
const ENV_LIST_KEYS: [&str; 10] = [
    "auth.vhosts",
    "auth.loopback_users",
    "auth.mechanisms",
    "tls.versions",
    "tls.ciphers",
    "management.listen",
    "management.tls_listen",
    "prometheus.listen",
    "prometheus.tls_listen",
    "cluster.election_timeout_ms",
];

/// The only settings that take `true` or `false`.
const BOOL_KEYS: [&str; 5] = [
    "tls.fail_if_no_peer_cert",
    "cluster.enabled",
    "cluster.proxy",
    "cluster.join",
    "cluster.tls.enabled",
];

/// Values from the command line, applied last. `None` leaves the setting alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `--listen ADDR:PORT` (repeatable, comma-separated) → `server.listen`.
    pub listen: Option<String>,
    /// `--data-dir DIR` → `server.data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `--log-level LEVEL` → `server.log_level`.
    pub log_level: Option<String>,
}

impl From<&cli::Cli> for Overrides {
    fn from(cli: &cli::Cli) -> Overrides {
        Overrides {
            listen: (!cli.listen.is_empty())
                .then(|| listen::join(cli.listen.iter().flat_map(|l| l.split(',')))),
            data_dir: cli.data_dir.clone(),
            log_level: cli.log_level.clone(),
        }
    }
}

/// Loads settings for the command line `cli`: defaults, then `--config FILE` (if given), then
/// `WARREN_<SECTION>__<KEY>` variables from the process environment, then the flags.
/// Does not validate; call [`Settings::validate`] on the result.
pub fn load(cli: &cli::Cli) -> Result<Settings, ConfigError> {
    let mut env = Vec::new();
    for (name, value) in std::env::vars_os() {
        // Names that are not UTF-8 cannot be ours; values of ours must be UTF-8.
        let Ok(name) = name.into_string() else {
            continue;
        };
        if !is_warren_var(&name) {
            continue;
        }
        match value.into_string() {
            Ok(value) => env.push((name, value)),
            Err(_) => return Err(ConfigError::EnvNotUnicode { name }),
        }
    }
    load_from(cli.config.as_deref(), env, Overrides::from(cli))
}

/// Loads settings from an optional TOML `file`, the given environment pairs (only names of
/// the form `WARREN_<SECTION>__<KEY>`, case-insensitively, are read; `WARREN_HOME` is not) and command-line `overrides`, each
/// layer over the previous one and all over [`Settings::default`]. Does not validate.
pub fn load_from(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: Overrides,
) -> Result<Settings, ConfigError> {
    let mut builder = config::Config::builder();
    if let Some(path) = file {
        if !path.exists() {
            return Err(ConfigError::FileNotFound {
                path: path.to_path_buf(),
            });
        }
        // Parse the file on its own first so a syntax error is reported against the file.
        let source = config::File::from(path)
            .format(config::FileFormat::Toml)
            .required(true);
        config::Config::builder()
            .add_source(source.clone())
            .build()
            .map_err(|e| ConfigError::File {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        builder = builder.add_source(source);
    }

    let mut scalars = HashMap::new();
    let mut lists = Vec::new();
    for (name, value) in env {
        if !is_warren_var(&name) {
            continue;
        }
        let key = env_key(&name);
        if ENV_LIST_KEYS.contains(&key.as_str()) {
            lists.push((key, split_list(&value)));
        } else {
            scalars.insert(name, value);
        }
    }
    // Numbers arrive as strings; the config crate parses them into the field's type and
    // reports "invalid type ... for key `amqp.frame_max`" when they do not fit.
    builder = builder.add_source(
        config::Environment::with_prefix("WARREN")
            .prefix_separator("_")
            .separator("__")
            .source(Some(scalars.into_iter().collect())),
    );
    for (key, values) in lists {
        builder = builder
            .set_override(key.as_str(), values)
            .map_err(|e| ConfigError::Shape(e.to_string()))?;
    }

    let merged = builder
        .build()
        .map_err(|e| ConfigError::Shape(e.to_string()))?;
    reject_lossy_kinds("", &merged.cache)?;
    let mut settings: Settings = merged
        .try_deserialize()
        .map_err(|e| ConfigError::Shape(e.to_string()))?;

    if let Some(listen) = overrides.listen {
        settings.server.listen = listen;
    }
    if let Some(data_dir) = overrides.data_dir {
        settings.server.data_dir = data_dir;
    }
    if let Some(log_level) = overrides.log_level {
        settings.server.log_level = log_level;
    }
    Ok(settings)
}

/// No setting is a float or a boolean, yet the config crate would quietly round `4096.5` to
/// 4097 and turn `true` into 1 or "true". Refuse both, naming the key and its source.
fn reject_lossy_kinds(path: &str, value: &config::Value) -> Result<(), ConfigError> {
    let from = value
        .origin()
        .map(|o| format!(" (from {o})"))
        .unwrap_or_default();
    match &value.kind {
        config::ValueKind::Table(table) => {
            for (key, child) in table {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                reject_lossy_kinds(&child_path, child)?;
            }
            Ok(())
        }
        config::ValueKind::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                reject_lossy_kinds(&format!("{path}[{i}]"), item)?;
            }
            Ok(())
        }
        config::ValueKind::Float(f) => Err(ConfigError::invalid(
            path,
            format!("expected a whole number or a string, got {f}{from}"),
        )),
        config::ValueKind::Boolean(_) if BOOL_KEYS.contains(&path) => Ok(()),
        config::ValueKind::Boolean(b) => Err(ConfigError::invalid(
            path,
            format!("this setting does not take true or false, got {b}{from}"),
        )),
        _ => Ok(()),
    }
}

/// True for `WARREN_<SECTION>__<KEY>` (a non-empty section and key around the first `__`).
/// Other `WARREN_*` names (`WARREN_HOME`, `WARREN_BIN`) belong to operators and scripts.
fn is_warren_var(name: &str) -> bool {
    let has_prefix = name
        .get(..ENV_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ENV_PREFIX));
    let rest = name.get(ENV_PREFIX.len()..).unwrap_or_default();
    has_prefix
        && rest
            .split_once("__")
            .is_some_and(|(section, key)| !section.is_empty() && !key.is_empty())
}

/// `WARREN_AUTH__LOOPBACK_USERS` → `auth.loopback_users` (the config crate's own mapping).
fn env_key(name: &str) -> String {
    name.get(ENV_PREFIX.len()..)
        .unwrap_or_default()
        .to_lowercase()
        .replace("__", ".")
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
