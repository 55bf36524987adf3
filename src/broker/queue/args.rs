//! TEMPORARY STUB (replaced by the ext branch).
#![allow(missing_docs)]
use crate::protocol::{FieldTable, ShortStr};
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    #[default]
    DropHead,
    RejectPublish,
    RejectPublishDlx,
}
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueArgs {
    pub message_ttl: Option<u64>,
    pub expires: Option<u64>,
    pub max_length: Option<u64>,
    pub max_length_bytes: Option<u64>,
    pub overflow: Overflow,
    pub dead_letter_exchange: Option<ShortStr>,
    pub dead_letter_routing_key: Option<ShortStr>,
    pub max_priority: Option<u8>,
    pub single_active_consumer: bool,
}
impl QueueArgs {
    pub fn parse(_a: &FieldTable, _q: &str, _v: &str) -> Result<QueueArgs, String> {
        Ok(QueueArgs::default())
    }
}
pub fn consumer_priority(_a: &FieldTable) -> Result<i32, String> {
    Ok(0)
}
