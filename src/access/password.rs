//! Password hashes in RabbitMQ's format: `base64(salt ‖ H(salt ‖ password))` with a 4-byte
//! random salt, H being SHA-256 (`rabbit_password_hashing_sha256`, the default), SHA-512 or
//! MD5, so a definitions file exported from RabbitMQ logs the same users in. Clear-text
//! passwords are hashed on arrival and never kept.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::Md5;
use sha2::{Digest, Sha256, Sha512};

/// Length of RabbitMQ's salt.
const SALT_LEN: usize = 4;

/// A hashing algorithm RabbitMQ names in `hashing_algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashingAlgorithm {
    /// `rabbit_password_hashing_sha256` (RabbitMQ's default).
    #[default]
    Sha256,
    /// `rabbit_password_hashing_sha512`.
    Sha512,
    /// `rabbit_password_hashing_md5` (older RabbitMQ versions).
    Md5,
}

/// Why a password hash or algorithm name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// `hashing_algorithm` names no algorithm RabbitMQ ships.
    #[error("unknown hashing algorithm '{0}'")]
    UnknownAlgorithm(String),
    /// `password_hash` is not base64.
    #[error("password_hash is not valid base64")]
    NotBase64,
    /// `password_hash` decodes to fewer bytes than a salt and a digest.
    #[error("password_hash has the wrong length for {0}")]
    WrongLength(&'static str),
}

impl HashingAlgorithm {
    /// Parses RabbitMQ's module name (`rabbit_password_hashing_sha256`, ...).
    pub fn from_name(name: &str) -> Result<HashingAlgorithm, PasswordError> {
        match name {
            "rabbit_password_hashing_sha256" => Ok(HashingAlgorithm::Sha256),
            "rabbit_password_hashing_sha512" => Ok(HashingAlgorithm::Sha512),
            "rabbit_password_hashing_md5" => Ok(HashingAlgorithm::Md5),
            other => Err(PasswordError::UnknownAlgorithm(other.to_string())),
        }
    }

    /// RabbitMQ's module name for this algorithm.
    pub fn name(self) -> &'static str {
        match self {
            HashingAlgorithm::Sha256 => "rabbit_password_hashing_sha256",
            HashingAlgorithm::Sha512 => "rabbit_password_hashing_sha512",
            HashingAlgorithm::Md5 => "rabbit_password_hashing_md5",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            HashingAlgorithm::Sha256 => 32,
            HashingAlgorithm::Sha512 => 64,
            HashingAlgorithm::Md5 => 16,
        }
    }

    fn digest(self, salt: &[u8], password: &[u8]) -> Vec<u8> {
        match self {
            HashingAlgorithm::Sha256 => Sha256::new()
                .chain_update(salt)
                .chain_update(password)
                .finalize()
                .to_vec(),
            HashingAlgorithm::Sha512 => Sha512::new()
                .chain_update(salt)
                .chain_update(password)
                .finalize()
                .to_vec(),
            HashingAlgorithm::Md5 => Md5::new()
                .chain_update(salt)
                .chain_update(password)
                .finalize()
                .to_vec(),
        }
    }
}

/// A stored password: salt and digest, as RabbitMQ keeps them. An empty hash means the
/// user cannot log in with a password (RabbitMQ's passwordless users).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PasswordHash {
    algorithm: HashingAlgorithm,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for PasswordHash {
    /// Shows the algorithm only: a hash is as sensitive as the password for offline attacks.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHash")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub fn new(algorithm: HashingAlgorithm, password: &[u8]) -> PasswordHash {
        let salt: [u8; SALT_LEN] = rand::random();
        let mut bytes = salt.to_vec();
        bytes.extend_from_slice(&algorithm.digest(&salt, password));
        PasswordHash { algorithm, bytes }
    }

    /// A user without a password: no password matches.
    pub fn none() -> PasswordHash {
        PasswordHash::default()
    }

    /// Reads a `password_hash` (base64) made by RabbitMQ with `algorithm`. An empty string is
    /// a user without a password, as in RabbitMQ.
    pub fn from_base64(
        algorithm: HashingAlgorithm,
        encoded: &str,
    ) -> Result<PasswordHash, PasswordError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| PasswordError::NotBase64)?;
        if !bytes.is_empty() && bytes.len() != SALT_LEN + algorithm.digest_len() {
            return Err(PasswordError::WrongLength(algorithm.name()));
        }
        Ok(PasswordHash { algorithm, bytes })
    }

    /// The hash as RabbitMQ exports it (`password_hash`).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.bytes)
    }

    /// The algorithm (`hashing_algorithm`).
    pub fn algorithm(&self) -> HashingAlgorithm {
        self.algorithm
    }

    /// Whether `password` matches, comparing in constant time. Always false for a user
    /// without a password.
    pub fn verify(&self, password: &[u8]) -> bool {
        let Some((salt, expected)) = self.bytes.split_at_checked(SALT_LEN) else {
            return false;
        };
        if expected.is_empty() {
            return false;
        }
        constant_time_eq(&self.algorithm.digest(salt, password), expected)
    }
}

/// Compares without stopping at the first difference, so the time taken does not depend on
/// where the inputs differ (only on the longer length).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let mut left = a.iter();
    let mut right = b.iter();
    for _ in 0..a.len().max(b.len()) {
        let x = left.next().copied().unwrap_or(0);
        let y = right.next().copied().unwrap_or(0);
        diff |= std::hint::black_box(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_matches_slice_equality() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"", b""),
            (b"a", b""),
            (b"guest", b"guest"),
            (b"guest", b"guesT"),
            (b"guest", b"guest\0"),
            (b"\0", b""),
        ];
        for (a, b) in cases {
            assert_eq!(constant_time_eq(a, b), a == b, "{a:?} vs {b:?}");
            assert_eq!(constant_time_eq(b, a), a == b, "{b:?} vs {a:?}");
        }
    }

    #[test]
    fn every_algorithm_round_trips_through_base64() {
        for alg in [
            HashingAlgorithm::Sha256,
            HashingAlgorithm::Sha512,
            HashingAlgorithm::Md5,
        ] {
            let h = PasswordHash::new(alg, b"s3cret");
            let back = PasswordHash::from_base64(alg, &h.to_base64()).unwrap();
            assert!(back.verify(b"s3cret"));
            assert!(!back.verify(b"s3cret "));
            assert_eq!(HashingAlgorithm::from_name(alg.name()), Ok(alg));
        }
    }

    #[test]
    fn bad_hashes_are_refused_and_empty_means_no_password() {
        let alg = HashingAlgorithm::Sha256;
        assert_eq!(
            PasswordHash::from_base64(alg, "not base64!"),
            Err(PasswordError::NotBase64)
        );
        assert!(matches!(
            PasswordHash::from_base64(alg, "AAAA"),
            Err(PasswordError::WrongLength(_))
        ));
        let none = PasswordHash::from_base64(alg, "").unwrap();
        assert!(!none.verify(b""));
        assert!(!PasswordHash::none().verify(b""));
    }
}
