//! Shared code for the amqprs scenarios (included with `#[path = "helpers/util.rs"] mod util;`).
//! Publisher-confirm bookkeeping over the channel events of `interop::rs`, bounded
//! receives, passive message counts, field-table values and a cleanup guard that deletes a
//! scenario's queues and exchanges when it fails.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use amqprs::channel::{
    BasicConsumeArguments, Channel, ConfirmSelectArguments, ConsumerMessage,
    ExchangeDeleteArguments, QueueDeclareArguments, QueueDeleteArguments,
};
use amqprs::connection::Connection;
use amqprs::{BasicProperties, Deliver, FieldTable, FieldValue};
use tokio::sync::mpsc;

pub use interop::rs::{Event, channel, next_event};

/// Publisher-confirm bookkeeping: which delivery tags are still unconfirmed.
#[derive(Default)]
pub struct Confirms {
    next_tag: u64,
    outstanding: BTreeSet<u64>,
    /// Number of tags acked so far.
    pub acked: u64,
}

impl Confirms {
    /// Records one publish on the confirm-mode channel; returns its delivery tag.
    pub fn published(&mut self) -> u64 {
        self.next_tag += 1;
        self.outstanding.insert(self.next_tag);
        self.next_tag
    }

    /// Number of publishes not yet confirmed.
    pub fn in_flight(&self) -> usize {
        self.outstanding.len()
    }

    /// Applies an ack; panics on a nack, on a tag never published or on an ack that
    /// confirms nothing new.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Ack { tag, multiple } => {
                assert!(tag <= self.next_tag, "ack for unpublished tag {tag}");
                let before = self.outstanding.len();
                if multiple {
                    let rest = self.outstanding.split_off(&(tag + 1));
                    self.outstanding = rest;
                } else {
                    self.outstanding.remove(&tag);
                }
                let newly = before - self.outstanding.len();
                assert!(
                    newly > 0,
                    "ack {tag} (multiple={multiple}) confirms nothing new"
                );
                self.acked += newly as u64;
            }
            other => panic!("expected a publisher ack, got {other:?}"),
        }
    }

    /// Processes events until at most `max_in_flight` publishes are unconfirmed.
    pub async fn wait_until(
        &mut self,
        events: &mut mpsc::UnboundedReceiver<Event>,
        max_in_flight: usize,
    ) {
        while self.outstanding.len() > max_in_flight {
            let ev = next_event(events, "publisher confirms").await;
            self.apply(ev);
        }
    }

    /// Waits until every publish is acked.
    pub async fn wait_all(&mut self, events: &mut mpsc::UnboundedReceiver<Event>) {
        self.wait_until(events, 0).await;
        assert_eq!(
            self.acked, self.next_tag,
            "every publish acked exactly once"
        );
    }
}

/// Opens a channel in confirm mode; its acks arrive on the returned receiver.
pub async fn confirm_channel(conn: &Connection) -> (Channel, mpsc::UnboundedReceiver<Event>) {
    let (ch, events) = channel(conn).await;
    ch.confirm_select(ConfirmSelectArguments::default())
        .await
        .expect("confirm.select");
    (ch, events)
}

/// Consumes `queue` with manual acks as consumer `tag` ("" lets the broker choose one);
/// returns the consumer tag and the deliveries.
pub async fn consume_manual(
    ch: &Channel,
    queue: &str,
    tag: &str,
) -> (String, mpsc::UnboundedReceiver<ConsumerMessage>) {
    ch.basic_consume_rx(
        BasicConsumeArguments::new(queue, tag)
            .manual_ack(true)
            .finish(),
    )
    .await
    .unwrap_or_else(|e| panic!("basic.consume {queue}: {e}"))
}

/// Deletes `queues`, each of which must be empty, then `exchanges` (the end of a scenario).
pub async fn delete_empty(ch: &Channel, queues: &[&str], exchanges: &[&str]) {
    for q in queues {
        let left = ch
            .queue_delete(QueueDeleteArguments::new(q))
            .await
            .unwrap_or_else(|e| panic!("queue.delete {q}: {e}"));
        assert_eq!(left, Some(0), "{q} empty when deleted");
    }
    for x in exchanges {
        ch.exchange_delete(ExchangeDeleteArguments::new(x))
            .await
            .unwrap_or_else(|e| panic!("exchange.delete {x}: {e}"));
    }
}

/// The next delivery of a `basic_consume_rx` consumer (30 s hang guard), split into parts.
pub async fn recv(
    rx: &mut mpsc::UnboundedReceiver<ConsumerMessage>,
    what: &str,
) -> (Deliver, BasicProperties, Vec<u8>) {
    let msg = interop::bounded(what, rx.recv())
        .await
        .unwrap_or_else(|| panic!("consumer stream ended waiting for {what}"));
    (
        msg.deliver.expect("deliver"),
        msg.basic_properties.expect("properties"),
        msg.content.expect("content"),
    )
}

/// Message count of `queue` from a passive queue.declare.
pub async fn message_count(ch: &Channel, queue: &str) -> u32 {
    let (_, messages, _) = ch
        .queue_declare(QueueDeclareArguments::new(queue).passive(true).finish())
        .await
        .unwrap_or_else(|e| panic!("passive queue.declare {queue}: {e}"))
        .expect("declare-ok");
    messages
}

/// A field-table key.
pub fn key(k: &str) -> amqprs::FieldName {
    k.try_into().expect("field name")
}

/// A long-string field value.
pub fn s(v: &str) -> FieldValue {
    FieldValue::S(v.try_into().expect("long string"))
}

/// A string header value, if `table[k]` is one.
pub fn get_str<'a>(table: &'a FieldTable, k: &str) -> Option<&'a str> {
    match table.get(&key(k)) {
        Some(FieldValue::S(v)) => Some(v.as_ref().as_str()),
        _ => None,
    }
}

/// Any integer field value widened to i64 (brokers pick different integer types).
pub fn as_int(v: &FieldValue) -> Option<i64> {
    Some(match v {
        FieldValue::b(x) => *x as i64,
        FieldValue::B(x) => *x as i64,
        FieldValue::s(x) => *x as i64,
        FieldValue::u(x) => *x as i64,
        FieldValue::I(x) => *x as i64,
        FieldValue::i(x) => *x as i64,
        FieldValue::l(x) => *x,
        _ => return None,
    })
}

/// Runs a scenario. If it panics (a failed expectation), the queues and exchanges named
/// in `queues` and `exchanges` are deleted best effort over a fresh connection, and the
/// program exits with status 1 (the panic message is already printed).
pub async fn run<F>(queues: Vec<String>, exchanges: Vec<String>, scenario: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let res = tokio::spawn(scenario).await;
    if res.is_ok() {
        return;
    }
    eprintln!("scenario failed; deleting its queues and exchanges");
    let cleanup = async {
        let conn = interop::rs::connect().await;
        for q in &queues {
            match conn.open_channel(None).await {
                Ok(ch) => {
                    if let Err(e) = ch.queue_delete(QueueDeleteArguments::new(q)).await {
                        eprintln!("cleanup: queue.delete {q}: {e}");
                    }
                    let _ = ch.close().await;
                }
                Err(e) => eprintln!("cleanup: channel.open: {e}"),
            }
        }
        for x in &exchanges {
            match conn.open_channel(None).await {
                Ok(ch) => {
                    if let Err(e) = ch.exchange_delete(ExchangeDeleteArguments::new(x)).await {
                        eprintln!("cleanup: exchange.delete {x}: {e}");
                    }
                    let _ = ch.close().await;
                }
                Err(e) => eprintln!("cleanup: channel.open: {e}"),
            }
        }
        let _ = conn.close().await;
    };
    if tokio::time::timeout(Duration::from_secs(10), cleanup)
        .await
        .is_err()
    {
        eprintln!("cleanup: timed out after 10s");
    }
    std::process::exit(1);
}
