//! TEMPORARY STUB (replaced by the ext branch).
#![allow(missing_docs)]
use crate::protocol::{DecodeError, FieldTable, ShortStr};
use bytes::Bytes;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeathReason {
    Rejected,
    Expired,
    MaxLen,
}
#[derive(Debug)]
pub struct DeathContext<'a> {
    pub queue: &'a str,
    pub reason: DeathReason,
    pub exchange: &'a [u8],
    pub routing_keys: Vec<Bytes>,
    pub now_secs: u64,
}
pub fn dead_letter_properties(raw: &Bytes, _c: &DeathContext<'_>) -> Result<Bytes, DecodeError> {
    Ok(raw.clone())
}
pub fn dead_letter_routing_keys(dlrk: Option<&ShortStr>, original: &[Bytes]) -> Vec<Bytes> {
    match dlrk {
        Some(k) => vec![k.as_raw().clone()],
        None => original.to_vec(),
    }
}
pub fn is_cycle(_raw: &Bytes, _q: &str, _r: DeathReason) -> bool {
    false
}
pub fn cc_bcc(_h: &FieldTable) -> (Vec<Bytes>, Vec<Bytes>) {
    (vec![], vec![])
}
pub fn strip_bcc(_raw: &Bytes) -> Result<Option<Bytes>, DecodeError> {
    Ok(None)
}
