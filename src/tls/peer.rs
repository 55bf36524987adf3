//! The user name SASL EXTERNAL takes from a verified client certificate, in the two forms
//! RabbitMQ's `ssl_cert_login_from` offers.
//!
//! RabbitMQ's distinguished name is RFC 4514: relative names from the most specific (last
//! in the certificate) to the least, joined by `,`, multi-valued ones by `+`, attribute types
//! by their short names (`CN`, `O`, `OU`, `C`, ...), special characters escaped.

use crate::config::CertLoginFrom;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// Why no user name could be taken from a certificate (logged; the client sees a refusal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerNameError {
    /// The DER could not be parsed.
    #[error("the client certificate cannot be parsed")]
    Malformed,
    /// `common_name` was asked for and the subject has none.
    #[error("the client certificate's subject has no common name")]
    NoCommonName,
    /// A subject attribute is not a string.
    #[error("the client certificate's subject holds a value that is not text")]
    NotText,
}

/// The user name in `der` (a client certificate) as `from` says.
pub fn user_name(der: &[u8], from: CertLoginFrom) -> Result<String, PeerNameError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| PeerNameError::Malformed)?;
    match from {
        CertLoginFrom::CommonName => cert
            .subject()
            .iter_common_name()
            .next()
            .ok_or(PeerNameError::NoCommonName)?
            .as_str()
            .map(str::to_string)
            .map_err(|_| PeerNameError::NotText),
        CertLoginFrom::DistinguishedName => distinguished_name(cert.subject()),
    }
}

/// The RFC 4514 form of `name`, most specific relative name first.
fn distinguished_name(name: &X509Name<'_>) -> Result<String, PeerNameError> {
    let mut rdns = Vec::new();
    for rdn in name.iter_rdn() {
        let parts = rdn.iter().map(attribute).collect::<Result<Vec<_>, _>>()?;
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

/// Attribute types by the short names RFC 4514 (and RabbitMQ) print; others print as their
/// dotted OID.
const SHORT_NAMES: [(&str, &str); 10] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.2.840.113549.1.9.1", "EMAILADDRESS"),
];

fn attribute(attr: &AttributeTypeAndValue<'_>) -> Result<String, PeerNameError> {
    let oid = attr.attr_type().to_id_string();
    let kind = SHORT_NAMES
        .iter()
        .find(|(id, _)| *id == oid)
        .map_or(oid.as_str(), |(_, name)| name);
    let value = attr.as_str().map_err(|_| PeerNameError::NotText)?;
    Ok(format!("{kind}={}", escape(value)))
}

/// RFC 4514 escaping of an attribute value.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn values_are_escaped_as_rfc4514_says() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape("#x "), "\\#x\\ ");
        assert_eq!(escape(" lead"), "\\ lead");
        assert_eq!(escape(""), "");
    }
}
