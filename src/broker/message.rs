//! `Message`: one published message, shared (`Arc`) by every queue it was routed to.
//! Properties stay as the raw bytes the publisher sent, so deliveries forward them
//! unchanged; the body stays as the `Bytes` chunks sliced from the read buffer.

use crate::protocol::ShortStr;
use bytes::Bytes;

/// A published message. Immutable once built; queues hold `Arc<Message>`.
#[derive(Debug)]
pub struct Message {
    /// Broker-wide unique id (the store's key for it).
    pub id: u64,
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
    /// The expiration property in milliseconds, if set and valid.
    pub expiration: Option<u64>,
    /// When it was published or dead-lettered (Unix milliseconds): TTLs count from here
    /// when the message is read back from the store.
    pub published_at_ms: u64,
    /// The BCC header's routing keys (the header itself is removed before delivery).
    /// Dead-lettering without a dead-letter routing key routes with them too, as RabbitMQ
    /// does. Not kept in the store.
    pub bcc: Vec<Bytes>,
    /// Keeps removals from the store behind the message's store write.
    pub store_gate: crate::broker::store_gate::StoreGate,
}

/// The wall clock in Unix milliseconds (0 if the clock is before 1970).
pub fn unix_millis_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Source of message ids (the store starts it above what it holds).
static NEXT_MESSAGE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Message {
    /// The message as the store keeps it (the body joined into one buffer when it arrived
    /// in several frames).
    pub fn to_stored(&self) -> crate::store::StoredMessage {
        let body = match self.body.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut joined =
                    bytes::BytesMut::with_capacity(usize::try_from(self.body_size).unwrap_or(0));
                for chunk in many {
                    joined.extend_from_slice(chunk);
                }
                joined.freeze()
            }
        };
        crate::store::StoredMessage {
            exchange: self.exchange.as_raw().clone(),
            routing_key: self.routing_key.as_raw().clone(),
            raw_properties: self.raw_properties.clone(),
            body,
            persistent: self.persistent,
            published_at_ms: Some(self.published_at_ms),
        }
    }

    /// A fresh, process-wide unique message id.
    pub fn next_id() -> u64 {
        NEXT_MESSAGE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Makes later ids start above `id` (after recovering stored messages).
    pub fn reserve_ids_through(id: u64) {
        NEXT_MESSAGE_ID.fetch_max(id + 1, std::sync::atomic::Ordering::Relaxed);
    }

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
    /// How many times it was delivered and returned (reject or nack with requeue, recover,
    /// its channel or connection closing): quorum queues' `x-delivery-count`.
    pub delivery_count: u32,
    /// When it expires in this queue (x-message-ttl or the expiration property).
    pub expires_at: Option<tokio::time::Instant>,
    /// Also held in the store under this queue's id and `seq` (removed when settled).
    pub stored: bool,
}
