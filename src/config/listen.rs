//! Listen address lists (`server.listen`, `tls.listen`).
//!
//! A list may be written as one address (`"0.0.0.0:5672"`), a comma-separated string (what
//! the environment and repeated `--listen` flags give) or a TOML array. It is kept as one
//! comma-separated string, so `settings.server.listen = "127.0.0.1:0".into()` keeps working
//! and a file, a variable and a flag all compare equal when they name the same addresses.

use super::ConfigError;
use serde::Deserializer;
use serde::de::{self, SeqAccess, Visitor};
use std::net::SocketAddr;

/// Deserializes a string or an array of strings into one comma-separated string.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    deserializer.deserialize_any(AddrList)
}

struct AddrList;

impl<'de> Visitor<'de> for AddrList {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an address such as \"0.0.0.0:5672\" or a list of them")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(join(v.split(',')))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(join(items.iter().map(String::as_str)))
    }
}

/// Joins addresses with `,`, trimming each and dropping empty ones.
pub(super) fn join<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses the comma-separated list held by the setting `key`; an empty list is empty.
pub(super) fn parse(key: &str, value: &str) -> Result<Vec<SocketAddr>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse().map_err(|_| {
                ConfigError::invalid(
                    key,
                    format!(
                        "expected IP:PORT such as 0.0.0.0:5672 or [::]:5672 (several separated \
                         by commas or as a list), got {item:?}"
                    ),
                )
            })
        })
        .collect()
}
