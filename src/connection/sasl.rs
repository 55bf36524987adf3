//! SASL in connection.start / start-ok: which mechanisms a connection is offered
//! (`auth.mechanisms`, EXTERNAL only over TLS as RabbitMQ's `rabbit_auth_mechanism_ssl`
//! offers it) and what a client's response asks to log in as.

use super::Transport;
use crate::auth::{parse_amqplain, parse_plain};
use crate::config::CertLoginFrom;
use bytes::Bytes;

/// What a start-ok asks for.
#[derive(Debug)]
pub(super) enum Login {
    /// PLAIN or AMQPLAIN: a name and a password to check.
    Password {
        /// The name presented.
        user: String,
        /// The password presented.
        password: Vec<u8>,
    },
    /// EXTERNAL: the name taken from the verified client certificate, or why there is none
    /// (refused as a failed login, as RabbitMQ refuses it).
    Certificate(Result<String, String>),
}

/// Why a start-ok is a protocol error rather than a login attempt.
#[derive(Debug, thiserror::Error)]
pub(super) enum SaslError {
    /// A mechanism this connection was not offered.
    #[error("unknown authentication mechanism '{0}'")]
    UnknownMechanism(String),
    /// A PLAIN or AMQPLAIN response that does not parse.
    #[error("invalid {0} response")]
    Malformed(String),
}

/// The mechanisms offered on a connection over `transport`, in configured order.
pub(super) fn offered(mechanisms: &[String], transport: &Transport) -> Vec<String> {
    mechanisms
        .iter()
        .filter(|m| m.as_str() != "EXTERNAL" || transport.tls)
        .cloned()
        .collect()
}

/// The `mechanisms` field of connection.start: names separated by spaces.
pub(super) fn mechanisms_field(offered: &[String]) -> Bytes {
    Bytes::from(offered.join(" "))
}

/// Reads a start-ok's mechanism and response.
pub(super) fn login(
    mechanism: &str,
    response: &[u8],
    offered: &[String],
    transport: &Transport,
    login_from: CertLoginFrom,
) -> Result<Login, SaslError> {
    if !offered.iter().any(|m| m == mechanism) {
        return Err(SaslError::UnknownMechanism(mechanism.to_string()));
    }
    let password_login = |parsed: Option<(String, Vec<u8>)>| {
        parsed
            .map(|(user, password)| Login::Password { user, password })
            .ok_or_else(|| SaslError::Malformed(mechanism.to_string()))
    };
    match mechanism {
        "PLAIN" => password_login(parse_plain(response)),
        "AMQPLAIN" => password_login(parse_amqplain(response)),
        // RabbitMQ ignores EXTERNAL's response: the certificate is the credential.
        "EXTERNAL" => Ok(Login::Certificate(match &transport.peer_certificate {
            None => Err("no peer certificate".to_string()),
            Some(cert) => {
                crate::tls::peer::user_name(cert.as_ref(), login_from).map_err(|e| e.to_string())
            }
        })),
        other => Err(SaslError::UnknownMechanism(other.to_string())),
    }
}
