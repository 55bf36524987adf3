//! TEMPORARY STUB (replaced by the ext branch).
#![allow(missing_docs)]
pub fn parse_expiration(value: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "bad".to_string())
}
pub fn effective_ttl(q: Option<u64>, m: Option<u64>) -> Option<u64> {
    match (q, m) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
