//! Quorum queues' delivery counting, as RabbitMQ 3.10.8 does it: every return of a
//! delivered message (reject or nack with requeue, basic.recover, its channel or connection
//! closing) counts one; a message whose count goes past the queue's delivery limit is
//! dead-lettered with reason `delivery_limit` (dropped without a dead-letter exchange)
//! instead of requeued. The count reaches clients as the `x-delivery-count` header (a
//! signed 64-bit integer): on every basic.get (0 the first time), and on a consumer
//! delivery only once the message has been returned. Classic queues send no header.

use super::args::QueueType;
use crate::protocol::{BasicProperties, FieldValue};
use bytes::Bytes;

/// The header RabbitMQ sets.
pub const HEADER: &str = "x-delivery-count";

/// How a message is being handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handout {
    /// basic.get (or the management API's "get messages").
    Get,
    /// basic.deliver to a consumer.
    Deliver,
}

/// True when a message returned `count` times must leave a queue limited to `limit`.
pub fn exceeds(limit: Option<i64>, count: u32) -> bool {
    limit.is_some_and(|limit| i64::from(count) > limit)
}

/// The `x-delivery-count` value a message returned `count` times carries when handed out
/// from a queue of `queue_type`, if any.
pub fn header_value(queue_type: QueueType, count: u32, handout: Handout) -> Option<u32> {
    match (queue_type, handout) {
        (QueueType::Quorum, Handout::Get) => Some(count),
        (QueueType::Quorum, Handout::Deliver) => (count > 0).then_some(count),
        _ => None,
    }
}

/// `raw` (a content header's property flags and list) with `x-delivery-count` set to
/// `count` and, as RabbitMQ's `set_table_value` leaves them, the headers sorted by key.
/// Properties that do not decode (never the case for what the broker accepted) are
/// returned unchanged.
pub fn with_header(raw: &Bytes, count: u32) -> Bytes {
    let mut props = match BasicProperties::decode(raw) {
        Ok(props) => props,
        Err(e) => {
            tracing::debug!(error = %e, "properties not decoded; x-delivery-count not set");
            return raw.clone();
        }
    };
    super::dead_letter::set_table_value(
        props.headers.get_or_insert_with(Default::default),
        HEADER,
        FieldValue::I64(count.into()),
    );
    props.to_raw()
}

/// The properties to send for a message returned `count` times, handed out from a queue
/// of `queue_type`: `raw` itself unless a header must be added.
pub fn properties_for(raw: &Bytes, queue_type: QueueType, count: u32, handout: Handout) -> Bytes {
    match header_value(queue_type, count, handout) {
        Some(count) => with_header(raw, count),
        None => raw.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ShortStr;

    #[test]
    fn the_limit_is_passed_when_the_count_is_greater() {
        assert!(!exceeds(None, u32::MAX));
        assert!(!exceeds(Some(2), 2));
        assert!(exceeds(Some(2), 3));
        assert!(exceeds(Some(0), 1));
        assert!(exceeds(Some(-1), 1));
    }

    #[test]
    fn quorum_gets_always_carry_the_count_deliveries_only_after_a_return() {
        use Handout::*;
        assert_eq!(header_value(QueueType::Quorum, 0, Get), Some(0));
        assert_eq!(header_value(QueueType::Quorum, 0, Deliver), None);
        assert_eq!(header_value(QueueType::Quorum, 3, Deliver), Some(3));
        assert_eq!(header_value(QueueType::Classic, 3, Get), None);
        assert_eq!(header_value(QueueType::Stream, 3, Deliver), None);
    }

    #[test]
    fn the_header_replaces_its_namesake_and_the_table_ends_sorted() {
        let mut props = BasicProperties::default();
        let mut headers = crate::protocol::FieldTable::new();
        headers.insert(ShortStr::from_static("zz"), FieldValue::I32(1));
        headers.insert(ShortStr::from_static("aa"), FieldValue::I32(2));
        props.headers = Some(headers);
        let raw = with_header(&props.to_raw(), 2);
        let keys = |raw: &Bytes| {
            let headers = BasicProperties::decode(raw).unwrap().headers.unwrap();
            headers
                .0
                .iter()
                .map(|(k, _)| k.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&raw), ["aa", HEADER, "zz"]);
        let again = with_header(&raw, 5);
        assert_eq!(keys(&again), ["aa", HEADER, "zz"]);
        let decoded = BasicProperties::decode(&again).unwrap().headers.unwrap();
        assert_eq!(decoded.get(HEADER), Some(&FieldValue::I64(5)));
    }

    #[test]
    fn a_message_without_properties_gets_a_headers_table() {
        let raw = with_header(&BasicProperties::default().to_raw(), 0);
        let decoded = BasicProperties::decode(&raw).unwrap();
        assert_eq!(
            decoded.headers.unwrap().get(HEADER),
            Some(&FieldValue::I64(0))
        );
    }
}
