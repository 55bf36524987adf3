//! Settings: built-in defaults, then the config file, then `WARREN_<SECTION>__<KEY>`
//! environment variables, then command-line flags. `validate()` names the bad key.
//!
//! [`load`] reads the real process environment; [`load_from`] takes the environment as an
//! argument so tests never touch process-wide state. Both refuse unknown keys (serde's
//! `deny_unknown_fields`), naming the key and where it came from.

pub mod cli;
pub mod cluster;
pub mod cluster_tls;
mod definitions;
mod error;
mod http;
mod listen;
mod load;
pub mod tls;

pub use definitions::DefinitionsSettings;
pub use error::ConfigError;
pub use http::{ManagementSettings, PrometheusSettings};
pub use load::{ENV_PREFIX, Overrides, load, load_from};

use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Every setting Warren reads. `conf/warren.toml` lists each with its default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Listener, data directory, logging.
    pub server: ServerSettings,
    /// Protocol limits offered in connection.tune and enforced afterwards.
    pub amqp: AmqpSettings,
    /// Users and virtual hosts.
    pub auth: AuthSettings,
    /// Resource limits: memory and disk alarms, consumer timeout.
    pub limits: LimitSettings,
    /// The AMQPS listener (RabbitMQ's `ssl_options`).
    pub tls: tls::TlsSettings,
    /// The management HTTP API's listeners.
    pub management: ManagementSettings,
    /// The Prometheus endpoint's listeners.
    pub prometheus: PrometheusSettings,
    /// Definitions applied at start-up.
    pub definitions: DefinitionsSettings,
    /// Replication across nodes (off by default).
    pub cluster: cluster::ClusterSettings,
}

/// The `[limits]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Process memory (resident, bytes) above which publishers are blocked; 0 means 40% of
    /// the machine's memory (RabbitMQ's default relative watermark).
    pub memory_high_watermark: u64,
    /// Free disk space (bytes) below which publishers are blocked.
    pub disk_free_limit: u64,
    /// Milliseconds a delivery may stay unacknowledged before its channel is closed with
    /// 406; 0 disables the check.
    pub consumer_timeout_ms: u64,
    /// Largest the message store may grow, in bytes; 0 means no limit beyond the disk.
    pub max_store_size: u64,
    /// Bytes of writes waiting for the store (message bodies plus 256 per write) above which
    /// connections that publish are not read until the store catches up (at least 65536).
    pub store_pending_bytes: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            memory_high_watermark: 0,
            disk_free_limit: 50_000_000,
            consumer_timeout_ms: 1_800_000,
            max_store_size: 0,
            store_pending_bytes: 8 << 20,
        }
    }
}

/// The `[server]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Addresses to listen on, comma-separated (a TOML array is accepted too), e.g.
    /// `0.0.0.0:5672,[::]:5672`; empty turns the plain listener off.
    #[serde(deserialize_with = "listen::deserialize")]
    pub listen: String,
    /// Directory holding the LMDB environment.
    pub data_dir: PathBuf,
    /// Log filter: `error`, `warn`, `info`, `debug`, `trace`, or a tracing directive.
    pub log_level: String,
    /// Most client connections at once; 0 means no limit.
    pub max_connections: usize,
    /// Compact the data file at start-up when at least this percent of it is free
    /// (0 never, at most 100).
    pub compact_free_percent: u8,
    /// `cluster_name` sent in server-properties; empty means `rabbit@<short host name>`,
    /// as RabbitMQ forms it from its node name.
    pub cluster_name: String,
    /// Worker threads of the runtime that serves client connections; 0 (the default) means
    /// one per CPU core, or `TOKIO_WORKER_THREADS` when that is set.
    pub worker_threads: usize,
}

/// The most worker threads `server.worker_threads` may ask for.
pub const MAX_WORKER_THREADS: usize = 1024;

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
    /// SASL mechanisms offered, in order (RabbitMQ's `auth_mechanisms`): `PLAIN`,
    /// `AMQPLAIN`, `EXTERNAL` (offered on TLS connections only).
    pub mechanisms: Vec<String>,
    /// What EXTERNAL takes as the user name from a client certificate (RabbitMQ's
    /// `ssl_cert_login_from`).
    pub ssl_cert_login_from: CertLoginFrom,
}

/// Which part of a client certificate names the user for SASL EXTERNAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertLoginFrom {
    /// The subject as an RFC 4514 string, most specific first (`CN=alice,O=Example`).
    #[default]
    DistinguishedName,
    /// The subject's common name (`alice`).
    CommonName,
}

/// The SASL mechanisms Warren implements.
pub const AUTH_MECHANISMS: [&str; 3] = ["PLAIN", "AMQPLAIN", "EXTERNAL"];

/// One user.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSettings {
    /// Login name.
    pub name: String,
    /// Password in clear text (hashed when the user is seeded into the data directory).
    pub password: String,
    /// Tags (`administrator`, `monitoring`, `policymaker`, `management`); when not given,
    /// `guest` is an administrator, as in RabbitMQ, and other users have none.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: "0.0.0.0:5672,[::]:5672".to_string(),
            data_dir: PathBuf::from("./data"),
            log_level: "info".to_string(),
            max_connections: 0,
            compact_free_percent: 50,
            cluster_name: String::new(),
            worker_threads: 0,
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
                tags: None,
            }],
            vhosts: vec!["/".to_string()],
            loopback_users: vec!["guest".to_string()],
            mechanisms: vec!["PLAIN".to_string(), "AMQPLAIN".to_string()],
            ssl_cert_login_from: CertLoginFrom::DistinguishedName,
        }
    }
}

/// RabbitMQ's hard ceiling on a message body (`max_message_size` may not exceed 512 MiB).
pub const MAX_MESSAGE_SIZE_LIMIT: u64 = 512 * 1024 * 1024;

/// Smallest `frame_max` the AMQP 0-9-1 spec lets a peer offer (`frame-min-size`).
pub const FRAME_MIN_SIZE: u32 = 4096;

impl Settings {
    /// Checks every value the types alone cannot: the error names the setting by its dotted
    /// path, e.g. `amqp.frame_max: must be at least 4096, got 1024`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.amqp.validate()?;
        self.auth.validate()?;
        let tls_needed_by = [
            ("tls.listen", self.tls.enabled()),
            (
                "management.tls_listen",
                !self.management.tls_listen.is_empty(),
            ),
            (
                "prometheus.tls_listen",
                !self.prometheus.tls_listen.is_empty(),
            ),
        ]
        .into_iter()
        .find_map(|(key, on)| on.then_some(key));
        self.tls.validate(tls_needed_by)?;
        if self.limits.store_pending_bytes < 65536 {
            return Err(ConfigError::invalid(
                "limits.store_pending_bytes",
                format!(
                    "must be at least 65536, got {}",
                    self.limits.store_pending_bytes
                ),
            ));
        }
        if self.server.listen.trim().is_empty() && !self.tls.enabled() {
            return Err(ConfigError::invalid(
                "server.listen",
                "is empty and tls.listen too: nothing to listen on",
            ));
        }
        self.management.addresses()?;
        self.management.tls_addresses()?;
        self.management.request_timeout()?;
        self.prometheus.addresses()?;
        self.prometheus.tls_addresses()?;
        self.cluster.validate()?;
        Ok(())
    }

    /// The first plain listen address, parsed (valid after [`Settings::validate`]).
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen_addrs()?.into_iter().next().ok_or_else(|| {
            ConfigError::invalid("server.listen", "is empty: the plain listener is off")
        })
    }

    /// Every plain listen address, parsed; empty when the plain listener is off.
    pub fn listen_addrs(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        listen::parse("server.listen", &self.server.listen)
    }

    /// True when `server.listen` is the built-in default (IPv4 and IPv6 wildcards), where a
    /// machine without IPv6 only loses the IPv6 listener.
    pub fn listen_is_default(&self) -> bool {
        self.server.listen == ServerSettings::default().listen
    }
}

impl ServerSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        listen::parse("server.listen", &self.listen)?;
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                "server.data_dir",
                "must not be empty; give a directory such as ./data",
            ));
        }
        if self.log_level.trim().is_empty() {
            return Err(ConfigError::invalid(
                "server.log_level",
                "must not be empty; use error, warn, info, debug or trace",
            ));
        }
        if self.compact_free_percent > 100 {
            return Err(ConfigError::invalid(
                "server.compact_free_percent",
                format!(
                    "must be a percentage from 0 (never compact) to 100, got {}",
                    self.compact_free_percent
                ),
            ));
        }
        if self.worker_threads > MAX_WORKER_THREADS {
            return Err(ConfigError::invalid(
                "server.worker_threads",
                format!(
                    "must be from 0 (one per CPU core) to {MAX_WORKER_THREADS}, got {}",
                    self.worker_threads
                ),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|e| {
            ConfigError::invalid(
                "server.log_level",
                format!(
                    "{:?} is not a log filter ({e}); use error, warn, info, debug, trace \
                     or a directive such as warren=debug",
                    self.log_level
                ),
            )
        })?;
        Ok(())
    }
}

impl AmqpSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.frame_max < FRAME_MIN_SIZE {
            return Err(ConfigError::invalid(
                "amqp.frame_max",
                format!("must be at least {FRAME_MIN_SIZE}, got {}", self.frame_max),
            ));
        }
        if self.channel_max < 1 {
            return Err(ConfigError::invalid(
                "amqp.channel_max",
                format!("must be between 1 and 65535, got {}", self.channel_max),
            ));
        }
        if self.handshake_timeout_ms < 1 {
            return Err(ConfigError::invalid(
                "amqp.handshake_timeout_ms",
                format!("must be at least 1, got {}", self.handshake_timeout_ms),
            ));
        }
        if !(1..=MAX_MESSAGE_SIZE_LIMIT).contains(&self.max_message_size) {
            return Err(ConfigError::invalid(
                "amqp.max_message_size",
                format!(
                    "must be between 1 and {MAX_MESSAGE_SIZE_LIMIT} (512 MiB, RabbitMQ's hard \
                     maximum), got {}",
                    self.max_message_size
                ),
            ));
        }
        Ok(())
    }
}

impl AuthSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, user) in self.users.iter().enumerate() {
            if user.name.is_empty() {
                return Err(ConfigError::invalid(
                    format!("auth.users[{i}].name"),
                    "must not be empty",
                ));
            }
            if let Some(first) = seen.insert(user.name.as_str(), i) {
                return Err(ConfigError::invalid(
                    format!("auth.users[{i}].name"),
                    format!(
                        "user {:?} is already defined as auth.users[{first}]; names must be unique",
                        user.name
                    ),
                ));
            }
        }
        if self.mechanisms.is_empty() {
            return Err(ConfigError::invalid(
                "auth.mechanisms",
                "must name at least one of PLAIN, AMQPLAIN, EXTERNAL",
            ));
        }
        for (i, mechanism) in self.mechanisms.iter().enumerate() {
            if !AUTH_MECHANISMS.contains(&mechanism.as_str()) {
                return Err(ConfigError::invalid(
                    format!("auth.mechanisms[{i}]"),
                    format!("{mechanism:?} is not a mechanism; use PLAIN, AMQPLAIN or EXTERNAL"),
                ));
            }
        }
        for (i, vhost) in self.vhosts.iter().enumerate() {
            if vhost.is_empty() {
                return Err(ConfigError::invalid(
                    format!("auth.vhosts[{i}]"),
                    "must not be empty; the default virtual host is \"/\"",
                ));
            }
        }
        Ok(())
    }
}
