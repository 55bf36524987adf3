//! The `[cluster]` section: whether this node joins a replicated cluster, who it is, where
//! it listens for its peers, the shared secret that authenticates them, Raft timings, and
//! the initial voters (`[[cluster.peers]]`). Off by default: a single node behaves exactly
//! as without the section.
//!
//! Values that are wrong whatever the mode (a bad address, duplicate ids, timings out of
//! order) are refused always; what a running cluster needs (this node among the peers, a
//! readable secret) only when `enabled = true`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;
pub use super::cluster_tls::ClusterTlsSettings;

/// Fewest bytes a cluster secret may have (after trailing whitespace is trimmed).
pub const MIN_SECRET_LEN: usize = 16;
/// Most bytes read from the secret file; a longer file is refused rather than read whole.
pub const MAX_SECRET_LEN: usize = 4096;
/// Shortest heartbeat interval accepted, in milliseconds.
pub const MIN_HEARTBEAT_MS: u64 = 10;
/// Longest election timeout accepted, in milliseconds.
pub const MAX_ELECTION_TIMEOUT_MS: u64 = 60_000;

/// The `[cluster]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// Join a cluster. `false` (the default): a single node, nothing of the cluster starts.
    pub enabled: bool,
    /// This node's id: unique in the cluster, stable across restarts, never reused after
    /// the node's data is wiped. Must be one of `peers[].id` (0 = not set).
    pub node_id: u64,
    /// Address the cluster port binds (Raft RPCs, snapshots, `warren cluster status`).
    pub listen: String,
    /// Address this node gives when it asks to join a running cluster; empty means
    /// `listen`. Peers never dial it: each dials the `cluster` address of its own
    /// `[[cluster.peers]]` entry.
    pub advertise: String,
    /// File holding the secret shared by every node (at least 16 bytes, readable by its
    /// owner only, as RabbitMQ requires of its Erlang cookie).
    pub secret_file: PathBuf,
    /// Interval of the leader's heartbeats, in milliseconds.
    pub heartbeat_ms: u64,
    /// `[min, max]` milliseconds a follower waits without hearing from a leader before it
    /// stands for election; a leader that has not heard from a majority for `min` stops
    /// accepting writes (fencing).
    pub election_timeout_ms: Vec<u64>,
    /// Followers splice AMQP clients to the leader (with a PROXY v1 header); off, every
    /// node serves its own clients.
    pub proxy: bool,
    /// On first start (empty data), ask the running cluster to add this node (as a learner
    /// that catches up, then a voter) instead of forming a cluster from `peers`.
    pub join: bool,
    /// Take a snapshot (and let the log be purged) after this many entries since the last.
    pub snapshot_logs: u64,
    /// The initial voters, identical on every node; used to form the cluster on first start.
    pub peers: Vec<PeerSettings>,
    /// TLS on the cluster port (`[cluster.tls]`): off by default.
    pub tls: ClusterTlsSettings,
}

/// One `[[cluster.peers]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    /// The peer's node id (>= 1).
    pub id: u64,
    /// `host:port` this node dials for the peer's cluster port.
    pub cluster: String,
    /// `host:port` of the peer's AMQP listener (where clients are handed to).
    pub amqp: String,
    /// `host:port` of the peer's management API (plain HTTP), where a follower forwards
    /// management requests while that peer leads; empty: not forwarded (503).
    #[serde(default)]
    pub management: String,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            enabled: false,
            node_id: 0,
            listen: "0.0.0.0:25672".to_string(),
            advertise: String::new(),
            secret_file: PathBuf::new(),
            heartbeat_ms: 150,
            election_timeout_ms: vec![750, 1500],
            proxy: true,
            join: false,
            snapshot_logs: 10_000,
            peers: Vec::new(),
            tls: ClusterTlsSettings::default(),
        }
    }
}

impl ClusterSettings {
    /// Checks the section; see the module doc for which rules apply when.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if !self.advertise.is_empty() {
            check_host_port("cluster.advertise", &self.advertise)?;
        }
        self.check_timings()?;
        if self.snapshot_logs == 0 {
            return Err(ConfigError::invalid(
                "cluster.snapshot_logs",
                "must be at least 1",
            ));
        }
        self.check_peers()?;
        self.tls.validate()?;
        if self.enabled {
            self.check_membership()?;
            self.read_secret()?;
        }
        Ok(())
    }

    /// The cluster listen address, parsed.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.trim().parse().map_err(|_| {
            ConfigError::invalid(
                "cluster.listen",
                format!(
                    "{:?} is not an IP address and port such as 0.0.0.0:25672",
                    self.listen
                ),
            )
        })
    }

    /// The address this node announces (`advertise`, or `listen` when empty).
    pub fn advertised(&self) -> &str {
        if self.advertise.is_empty() {
            &self.listen
        } else {
            &self.advertise
        }
    }

    /// `(min, max)` election timeout in milliseconds (valid after [`Self::validate`]).
    pub fn election_timeout(&self) -> (u64, u64) {
        match self.election_timeout_ms.as_slice() {
            [min, max] => (*min, *max),
            _ => (750, 1500),
        }
    }

    /// This node's own `[[cluster.peers]]` entry.
    pub fn own_peer(&self) -> Option<&PeerSettings> {
        self.peers.iter().find(|p| p.id == self.node_id)
    }

    /// Reads the shared secret: trailing whitespace (a final newline) is not part of it.
    pub fn read_secret(&self) -> Result<Vec<u8>, ConfigError> {
        read_secret_file(&self.secret_file)
    }

    fn check_timings(&self) -> Result<(), ConfigError> {
        if self.heartbeat_ms < MIN_HEARTBEAT_MS {
            return Err(ConfigError::invalid(
                "cluster.heartbeat_ms",
                format!(
                    "must be at least {MIN_HEARTBEAT_MS}, got {}",
                    self.heartbeat_ms
                ),
            ));
        }
        let [min, max] = self.election_timeout_ms.as_slice() else {
            return Err(ConfigError::invalid(
                "cluster.election_timeout_ms",
                format!(
                    "must be two numbers [min, max], got {} values",
                    self.election_timeout_ms.len()
                ),
            ));
        };
        if *min <= self.heartbeat_ms || min >= max || *max > MAX_ELECTION_TIMEOUT_MS {
            return Err(ConfigError::invalid(
                "cluster.election_timeout_ms",
                format!(
                    "needs heartbeat_ms ({}) < min < max <= {MAX_ELECTION_TIMEOUT_MS}, got \
                     [{min}, {max}]",
                    self.heartbeat_ms
                ),
            ));
        }
        Ok(())
    }

    fn check_peers(&self) -> Result<(), ConfigError> {
        let mut ids: HashMap<u64, usize> = HashMap::new();
        let mut addrs: HashMap<&str, usize> = HashMap::new();
        for (i, peer) in self.peers.iter().enumerate() {
            if peer.id == 0 {
                return Err(ConfigError::invalid(
                    format!("cluster.peers[{i}].id"),
                    "must be at least 1",
                ));
            }
            if let Some(first) = ids.insert(peer.id, i) {
                return Err(ConfigError::invalid(
                    format!("cluster.peers[{i}].id"),
                    format!(
                        "{} is already the id of cluster.peers[{first}]; ids must be unique",
                        peer.id
                    ),
                ));
            }
            check_host_port(&format!("cluster.peers[{i}].cluster"), &peer.cluster)?;
            check_host_port(&format!("cluster.peers[{i}].amqp"), &peer.amqp)?;
            if !peer.management.is_empty() {
                check_host_port(&format!("cluster.peers[{i}].management"), &peer.management)?;
            }
            if let Some(first) = addrs.insert(peer.cluster.as_str(), i) {
                return Err(ConfigError::invalid(
                    format!("cluster.peers[{i}].cluster"),
                    format!(
                        "{:?} is already the address of cluster.peers[{first}]",
                        peer.cluster
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_membership(&self) -> Result<(), ConfigError> {
        if self.node_id == 0 {
            return Err(ConfigError::invalid(
                "cluster.node_id",
                "must be set (>= 1) when cluster.enabled is true",
            ));
        }
        if self.peers.is_empty() {
            return Err(ConfigError::invalid(
                "cluster.peers",
                "must list the cluster's nodes ([[cluster.peers]] with id, cluster, amqp), \
                 this node included",
            ));
        }
        if self.own_peer().is_none() {
            let ids: Vec<String> = self.peers.iter().map(|p| p.id.to_string()).collect();
            return Err(ConfigError::invalid(
                "cluster.node_id",
                format!(
                    "{} is not among the cluster.peers ids ({})",
                    self.node_id,
                    ids.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// Reads and checks a secret file (see [`ClusterSettings::secret_file`]).
pub fn read_secret_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let key = "cluster.secret_file";
    if path.as_os_str().is_empty() {
        return Err(ConfigError::invalid(
            key,
            "must be set when cluster.enabled is true: a file with the secret shared by all \
             nodes (e.g. 32 random bytes, mode 600)",
        ));
    }
    let unreadable = |e: std::io::Error| {
        ConfigError::invalid(key, format!("cannot read {}: {e}", path.display()))
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(ConfigError::invalid(
            key,
            format!("{} is not a file", path.display()),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(ConfigError::invalid(
                key,
                format!(
                    "{} must be accessible by its owner only (mode {:o}); run chmod 600 on it",
                    path.display(),
                    mode & 0o777
                ),
            ));
        }
    }
    if meta.len() > MAX_SECRET_LEN as u64 {
        return Err(ConfigError::invalid(
            key,
            format!(
                "{} is {} bytes; a secret has at most {MAX_SECRET_LEN}",
                path.display(),
                meta.len()
            ),
        ));
    }
    let mut secret = std::fs::read(path).map_err(unreadable)?;
    while secret.last().is_some_and(u8::is_ascii_whitespace) {
        secret.pop();
    }
    if secret.len() < MIN_SECRET_LEN || secret.len() > MAX_SECRET_LEN {
        return Err(ConfigError::invalid(
            key,
            format!(
                "{} holds {} bytes; a secret needs {MIN_SECRET_LEN} to {MAX_SECRET_LEN}",
                path.display(),
                secret.len()
            ),
        ));
    }
    Ok(secret)
}

/// Checks `host:port` (a name or IP, `[v6]:port` for IPv6, a port from 1 to 65535).
fn check_host_port(key: &str, value: &str) -> Result<(), ConfigError> {
    let bad = || {
        ConfigError::invalid(
            key,
            format!("{value:?} is not host:port (e.g. 10.0.0.2:25672 or node2.example:25672)"),
        )
    };
    let (host, port) = value.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host_ok = !host.is_empty()
        && (host.parse::<std::net::IpAddr>().is_ok()
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
    if port == 0 || !host_ok {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(ids: &[u64]) -> Vec<PeerSettings> {
        ids.iter()
            .map(|&id| PeerSettings {
                id,
                cluster: format!("127.0.0.1:{}", 25700 + id),
                amqp: format!("127.0.0.1:{}", 5700 + id),
                management: String::new(),
            })
            .collect()
    }

    fn secret(dir: &tempfile::TempDir, body: &[u8], mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join("secret");
        std::fs::write(&path, body).expect("write secret");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    fn enabled(dir: &tempfile::TempDir) -> ClusterSettings {
        ClusterSettings {
            enabled: true,
            node_id: 2,
            secret_file: secret(dir, b"0123456789abcdef0123\n", 0o600),
            peers: peers(&[1, 2, 3]),
            ..ClusterSettings::default()
        }
    }

    fn key_of(r: Result<(), ConfigError>) -> String {
        match r {
            Err(e) => e.key().unwrap_or_default().to_string(),
            Ok(()) => "ok".to_string(),
        }
    }

    #[test]
    fn defaults_are_off_and_valid() {
        let s = ClusterSettings::default();
        assert!(!s.enabled);
        assert!(s.validate().is_ok());
        assert_eq!(s.election_timeout(), (750, 1500));
    }

    #[test]
    fn a_complete_section_is_accepted_and_the_secret_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = enabled(&dir);
        assert!(s.validate().is_ok());
        assert_eq!(s.read_secret().expect("secret"), b"0123456789abcdef0123");
        assert_eq!(s.own_peer().map(|p| p.id), Some(2));
        assert_eq!(s.advertised(), "0.0.0.0:25672");
    }

    #[test]
    fn each_rule_names_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = enabled(&dir);
        let cases: Vec<(&str, ClusterSettings)> = vec![
            (
                "cluster.node_id",
                ClusterSettings {
                    node_id: 4,
                    ..base.clone()
                },
            ),
            (
                "cluster.node_id",
                ClusterSettings {
                    node_id: 0,
                    ..base.clone()
                },
            ),
            (
                "cluster.peers",
                ClusterSettings {
                    peers: vec![],
                    ..base.clone()
                },
            ),
            (
                "cluster.peers[2].id",
                ClusterSettings {
                    peers: peers(&[1, 2, 1]),
                    ..base.clone()
                },
            ),
            (
                "cluster.peers[0].id",
                ClusterSettings {
                    peers: peers(&[0, 2]),
                    ..base.clone()
                },
            ),
            (
                "cluster.listen",
                ClusterSettings {
                    listen: "nowhere".into(),
                    ..base.clone()
                },
            ),
            (
                "cluster.advertise",
                ClusterSettings {
                    advertise: "host:0".into(),
                    ..base.clone()
                },
            ),
            (
                "cluster.heartbeat_ms",
                ClusterSettings {
                    heartbeat_ms: 1,
                    ..base.clone()
                },
            ),
            (
                "cluster.election_timeout_ms",
                ClusterSettings {
                    election_timeout_ms: vec![900],
                    ..base.clone()
                },
            ),
            (
                "cluster.election_timeout_ms",
                ClusterSettings {
                    election_timeout_ms: vec![1500, 750],
                    ..base.clone()
                },
            ),
            (
                "cluster.election_timeout_ms",
                ClusterSettings {
                    election_timeout_ms: vec![100, 200],
                    ..base.clone()
                },
            ),
            (
                "cluster.snapshot_logs",
                ClusterSettings {
                    snapshot_logs: 0,
                    ..base.clone()
                },
            ),
            (
                "cluster.secret_file",
                ClusterSettings {
                    secret_file: dir.path().join("missing"),
                    ..base.clone()
                },
            ),
            (
                "cluster.secret_file",
                ClusterSettings {
                    secret_file: PathBuf::new(),
                    ..base.clone()
                },
            ),
        ];
        for (key, s) in cases {
            assert_eq!(key_of(s.validate()), key, "{s:?}");
        }
        let mut bad_addr = base.clone();
        bad_addr.peers[1].amqp = "no port".into();
        assert_eq!(key_of(bad_addr.validate()), "cluster.peers[1].amqp");
        let mut same_addr = base.clone();
        same_addr.peers[2].cluster = same_addr.peers[0].cluster.clone();
        assert_eq!(key_of(same_addr.validate()), "cluster.peers[2].cluster");
    }

    #[test]
    fn secret_files_must_be_private_and_long_enough() {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = secret(&dir, b"0123456789abcdef", 0o644);
        let err = read_secret_file(&open).expect_err("world-readable");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        let short = secret(&dir, b"short\n", 0o600);
        let err = read_secret_file(&short).expect_err("short");
        assert!(err.to_string().contains("5 bytes"), "{err}");
        let big = secret(&dir, &[b'x'; MAX_SECRET_LEN + 1], 0o600);
        assert!(read_secret_file(&big).is_err());
        assert!(read_secret_file(dir.path()).is_err());
    }

    #[test]
    fn disabled_sections_skip_membership_and_secret_but_not_shape() {
        let s = ClusterSettings {
            node_id: 9,
            peers: peers(&[1]),
            ..ClusterSettings::default()
        };
        assert!(s.validate().is_ok());
        let dup = ClusterSettings {
            peers: peers(&[1, 1]),
            ..ClusterSettings::default()
        };
        assert_eq!(key_of(dup.validate()), "cluster.peers[1].id");
    }

    #[test]
    fn host_port_forms() {
        for ok in [
            "10.0.0.1:1",
            "[::1]:25672",
            "node-2.example:25672",
            "localhost:5672",
        ] {
            assert!(check_host_port("k", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ":1",
            "host",
            "host:",
            "host:70000",
            "a b:1",
            "host:0",
            "[]:1",
        ] {
            assert!(check_host_port("k", bad).is_err(), "{bad}");
        }
    }
}
