//! Durable definitions (exchanges, queues, bindings) as the store keeps them: each encoded
//! with the AMQP codec's own primitives (short strings, field tables), keyed so that a
//! redeclare overwrites and a delete finds it.

use crate::broker::exchange::Destination;
use crate::protocol::primitives::{put_shortstr, take_shortstr, take_u8, take_u64};
use crate::protocol::{FieldTable, ShortStr, read_table, write_table};
use bytes::{BufMut, Bytes, BytesMut};

/// A durable exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeDef {
    /// Vhost name.
    pub vhost: ShortStr,
    /// Exchange name.
    pub name: ShortStr,
    /// Type name (`direct`, ...).
    pub kind: ShortStr,
    /// Auto-delete flag.
    pub auto_delete: bool,
    /// Internal flag.
    pub internal: bool,
    /// Arguments.
    pub arguments: FieldTable,
}

/// A durable queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueDef {
    /// Vhost name.
    pub vhost: ShortStr,
    /// Queue name.
    pub name: ShortStr,
    /// The store's id for its messages.
    pub queue_id: u64,
    /// Auto-delete flag.
    pub auto_delete: bool,
    /// Arguments.
    pub arguments: FieldTable,
}

/// A binding between durable entities.
#[derive(Debug, Clone, PartialEq)]
pub struct BindingDef {
    /// Vhost name.
    pub vhost: ShortStr,
    /// Source exchange.
    pub source: ShortStr,
    /// Destination queue or exchange.
    pub destination: Destination,
    /// Binding key.
    pub routing_key: ShortStr,
    /// Arguments.
    pub arguments: FieldTable,
}

/// Key of a named entity: vhost and name.
pub fn entity_key(vhost: &ShortStr, name: &ShortStr) -> Vec<u8> {
    let mut out = BytesMut::new();
    put_shortstr(&mut out, vhost);
    put_shortstr(&mut out, name);
    out.to_vec()
}

impl ExchangeDef {
    /// Store key.
    pub fn key(&self) -> Vec<u8> {
        entity_key(&self.vhost, &self.name)
    }

    /// Encoded value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        put_shortstr(&mut out, &self.vhost);
        put_shortstr(&mut out, &self.name);
        put_shortstr(&mut out, &self.kind);
        out.put_u8(u8::from(self.auto_delete) | (u8::from(self.internal) << 1));
        write_table(&mut out, &self.arguments);
        out.to_vec()
    }

    /// Decodes a value written by `encode`.
    pub fn decode(value: &[u8]) -> Option<ExchangeDef> {
        let mut input = Bytes::copy_from_slice(value);
        let vhost = take_shortstr(&mut input)?;
        let name = take_shortstr(&mut input)?;
        let kind = take_shortstr(&mut input)?;
        let flags = take_u8(&mut input)?;
        let arguments = read_table(&mut input).ok()?;
        Some(ExchangeDef {
            vhost,
            name,
            kind,
            auto_delete: flags & 1 != 0,
            internal: flags & 2 != 0,
            arguments,
        })
    }
}

impl QueueDef {
    /// Store key.
    pub fn key(&self) -> Vec<u8> {
        entity_key(&self.vhost, &self.name)
    }

    /// Encoded value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        put_shortstr(&mut out, &self.vhost);
        put_shortstr(&mut out, &self.name);
        out.put_u64(self.queue_id);
        out.put_u8(u8::from(self.auto_delete));
        write_table(&mut out, &self.arguments);
        out.to_vec()
    }

    /// Decodes a value written by `encode`.
    pub fn decode(value: &[u8]) -> Option<QueueDef> {
        let mut input = Bytes::copy_from_slice(value);
        let vhost = take_shortstr(&mut input)?;
        let name = take_shortstr(&mut input)?;
        let queue_id = take_u64(&mut input)?;
        let flags = take_u8(&mut input)?;
        let arguments = read_table(&mut input).ok()?;
        Some(QueueDef {
            vhost,
            name,
            queue_id,
            auto_delete: flags & 1 != 0,
            arguments,
        })
    }
}

impl BindingDef {
    /// Encoded value; it is also the key (a binding is identified by all its fields).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        put_shortstr(&mut out, &self.vhost);
        put_shortstr(&mut out, &self.source);
        let (tag, dest) = match &self.destination {
            Destination::Queue(q) => (b'q', q),
            Destination::Exchange(x) => (b'e', x),
        };
        out.put_u8(tag);
        put_shortstr(&mut out, dest);
        put_shortstr(&mut out, &self.routing_key);
        write_table(&mut out, &self.arguments);
        out.to_vec()
    }

    /// Decodes a value written by `encode`.
    pub fn decode(value: &[u8]) -> Option<BindingDef> {
        let mut input = Bytes::copy_from_slice(value);
        let vhost = take_shortstr(&mut input)?;
        let source = take_shortstr(&mut input)?;
        let tag = take_u8(&mut input)?;
        let dest = take_shortstr(&mut input)?;
        let destination = match tag {
            b'q' => Destination::Queue(dest),
            b'e' => Destination::Exchange(dest),
            _ => return None,
        };
        let routing_key = take_shortstr(&mut input)?;
        let arguments = read_table(&mut input).ok()?;
        Some(BindingDef {
            vhost,
            source,
            destination,
            routing_key,
            arguments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::FieldValue;

    fn args() -> FieldTable {
        let mut t = FieldTable::new();
        t.insert("x-message-ttl", FieldValue::I32(500));
        t
    }

    #[test]
    fn definitions_round_trip() {
        let x = ExchangeDef {
            vhost: "/".into(),
            name: "orders".into(),
            kind: "topic".into(),
            auto_delete: false,
            internal: true,
            arguments: args(),
        };
        assert_eq!(ExchangeDef::decode(&x.encode()), Some(x));
        let q = QueueDef {
            vhost: "/".into(),
            name: "billing".into(),
            queue_id: 42,
            auto_delete: true,
            arguments: args(),
        };
        assert_eq!(QueueDef::decode(&q.encode()), Some(q));
        let b = BindingDef {
            vhost: "/".into(),
            source: "orders".into(),
            destination: Destination::Exchange("audit".into()),
            routing_key: "order.#".into(),
            arguments: args(),
        };
        assert_eq!(BindingDef::decode(&b.encode()), Some(b));
    }
}
