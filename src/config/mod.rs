//! Settings: built-in defaults, then the config file, then `WARREN_<SECTION>__<KEY>`
//! environment variables, then command-line flags. `validate()` names the bad key.
//!
//! (Loading, validation and the CLI are filled in by the config work; this file fixes the
//! shape every other module reads.)

use serde::Deserialize;
use std::path::PathBuf;

/// Every setting Warren reads. `conf/warren.toml` lists each with its default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Listener, data directory, logging.
    pub server: ServerSettings,
    /// Protocol limits offered in connection.tune and enforced afterwards.
    pub amqp: AmqpSettings,
    /// Users and virtual hosts.
    pub auth: AuthSettings,
}

/// The `[server]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address and port to listen on, e.g. `0.0.0.0:5672`.
    pub listen: String,
    /// Directory holding the LMDB environment.
    pub data_dir: PathBuf,
    /// Log filter: `error`, `warn`, `info`, `debug`, `trace`, or a tracing directive.
    pub log_level: String,
    /// Most client connections at once; 0 means no limit.
    pub max_connections: usize,
}

/// The `[amqp]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmqpSettings {
    /// Highest channel number offered (1..=65535).
    pub channel_max: u16,
    /// Largest frame offered, in bytes (>= 4096).
    pub frame_max: u32,
    /// Heartbeat interval offered, in seconds (0 disables).
    pub heartbeat: u16,
    /// Milliseconds a client has to finish the handshake.
    pub handshake_timeout_ms: u64,
    /// Largest message body accepted, in bytes.
    pub max_message_size: u64,
}

/// The `[auth]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Users allowed to connect.
    pub users: Vec<UserSettings>,
    /// Virtual hosts that exist at start-up.
    pub vhosts: Vec<String>,
    /// Users who may connect only from loopback addresses (RabbitMQ's `loopback_users`).
    pub loopback_users: Vec<String>,
}

/// One user.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSettings {
    /// Login name.
    pub name: String,
    /// Password in clear text.
    pub password: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: ServerSettings::default(),
            amqp: AmqpSettings::default(),
            auth: AuthSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: "0.0.0.0:5672".to_string(),
            data_dir: PathBuf::from("./data"),
            log_level: "info".to_string(),
            max_connections: 0,
        }
    }
}

impl Default for AmqpSettings {
    fn default() -> Self {
        AmqpSettings {
            channel_max: 2047,
            frame_max: 131_072,
            heartbeat: 60,
            handshake_timeout_ms: 10_000,
            max_message_size: 128 * 1024 * 1024,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            users: vec![UserSettings {
                name: "guest".to_string(),
                password: "guest".to_string(),
            }],
            vhosts: vec!["/".to_string()],
            loopback_users: vec!["guest".to_string()],
        }
    }
}
