//! `Message`: one published message, shared (`Arc`) by every queue it was routed to.
//! Properties stay as the raw bytes the publisher sent, so deliveries forward them
//! unchanged; the body stays as the `Bytes` chunks sliced from the read buffer.

use crate::protocol::ShortStr;
use bytes::Bytes;

/// A published message. Immutable once built; queues hold `Arc<Message>`.
#[derive(Debug)]
pub struct Message {
    /// Exchange it was published to.
    pub exchange: ShortStr,
    /// Routing key it was published with.
    pub routing_key: ShortStr,
    /// Property flags and list, exactly as received.
    pub raw_properties: Bytes,
    /// Body chunks, in order.
    pub body: Vec<Bytes>,
    /// Total body size in bytes.
    pub body_size: u64,
    /// delivery-mode 2.
    pub persistent: bool,
    /// The priority property, if set.
    pub priority: Option<u8>,
}

impl Message {
    /// Bytes this message accounts for in memory limits (body plus properties).
    pub fn weight(&self) -> u64 {
        self.body_size + self.raw_properties.len() as u64
    }
}

/// A message as held by one queue: its position there and whether it was delivered before.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    /// Position in the queue (monotonic per queue); requeued messages return to it.
    pub seq: u64,
    /// The shared message.
    pub message: std::sync::Arc<Message>,
    /// True once it has been delivered and returned.
    pub redelivered: bool,
}
