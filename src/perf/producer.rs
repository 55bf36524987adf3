//! One producer: its own connection and channel, an optional rate, an optional window of
//! unconfirmed messages, and the send time written into each body.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use amqprs::channel::{BasicPublishArguments, Channel, ConfirmSelectArguments};
use amqprs::connection::Connection;
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};
use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use super::error::PerfError;
use super::stats::{Counters, SharedRecorder, now_nanos};

/// What a producer needs to know, shared with the run.
#[derive(Debug, Clone)]
pub struct ProducerSpec {
    /// Exchange to publish to.
    pub exchange: String,
    /// Routing key (the target queue's name).
    pub routing_key: String,
    /// Body size in bytes (at least 8).
    pub size: usize,
    /// Messages per second; 0 for flat out.
    pub rate: f64,
    /// Unconfirmed messages allowed in flight, when confirming.
    pub confirm: Option<u32>,
    /// Delivery-mode 2.
    pub persistent: bool,
    /// Messages to publish before stopping (None: until told to stop).
    pub limit: Option<u64>,
}

/// A connected producer, ready to [`Producer::run`].
pub struct Producer {
    conn: Connection,
    ch: Channel,
    spec: ProducerSpec,
    window: Option<Arc<Semaphore>>,
    pending: Arc<Mutex<BTreeMap<u64, u64>>>,
    counters: Arc<Counters>,
    /// Messages this producer has published.
    pub published: Arc<AtomicU64>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl Producer {
    /// Opens the producer's connection and channel; selects confirm mode if asked.
    pub async fn connect(
        args: &amqprs::connection::OpenConnectionArguments,
        spec: ProducerSpec,
        counters: Arc<Counters>,
        recorder: SharedRecorder,
    ) -> Result<Producer, PerfError> {
        let conn = Connection::open(args)
            .await
            .map_err(PerfError::amqp("opening producer connection"))?;
        let ch = conn
            .open_channel(None)
            .await
            .map_err(PerfError::amqp("opening producer channel"))?;
        let pending = Arc::new(Mutex::new(BTreeMap::new()));
        let window = spec.confirm.map(|n| Arc::new(Semaphore::new(n as usize)));
        if let Some(window) = &window {
            let tracker = ConfirmTracker {
                pending: pending.clone(),
                window: window.clone(),
                counters: counters.clone(),
                recorder,
            };
            ch.register_callback(tracker)
                .await
                .map_err(PerfError::amqp("registering confirm callback"))?;
            ch.confirm_select(ConfirmSelectArguments::new(false))
                .await
                .map_err(PerfError::amqp("confirm.select"))?;
        }
        Ok(Producer {
            conn,
            ch,
            spec,
            window,
            pending,
            counters,
            published: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Publishes until `stop` turns true or the limit is reached, then waits for the
    /// outstanding confirms (until `stop`) and closes the connection.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Result<(), PerfError> {
        let props = BasicProperties::default()
            .with_delivery_mode(if self.spec.persistent { 2 } else { 1 })
            .finish();
        let publish_args = BasicPublishArguments::new(&self.spec.exchange, &self.spec.routing_key);
        let template = vec![0u8; self.spec.size.max(8)];
        let start = Instant::now();
        let mut seq: u64 = 0;
        while !*stop.borrow() && self.spec.limit.is_none_or(|l| seq < l) {
            if self.spec.rate > 0.0 {
                let due = start + Duration::from_secs_f64(seq as f64 / self.spec.rate);
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    _ = stop.changed() => break,
                }
            }
            if let Some(window) = &self.window {
                tokio::select! {
                    permit = window.acquire() => match permit {
                        Ok(p) => p.forget(),
                        Err(_) => break,
                    },
                    _ = stop.changed() => break,
                }
            }
            seq += 1;
            let mut body = template.clone();
            let sent = now_nanos();
            body[..8].copy_from_slice(&sent.to_be_bytes());
            if self.window.is_some() {
                self.pending.lock().insert(seq, sent);
            }
            self.ch
                .basic_publish(props.clone(), body, publish_args.clone())
                .await
                .map_err(PerfError::amqp("basic.publish"))?;
            self.published.fetch_add(1, Ordering::Relaxed);
            self.counters.published.fetch_add(1, Ordering::Relaxed);
        }
        if let (Some(window), Some(n)) = (&self.window, self.spec.confirm) {
            tokio::select! {
                _ = window.acquire_many(n) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        }
        let _ = self.ch.close().await;
        let _ = self.conn.close().await;
        Ok(())
    }
}

/// Settles confirms: frees window slots, counts acks and nacks, records confirm latency.
struct ConfirmTracker {
    pending: Arc<Mutex<BTreeMap<u64, u64>>>,
    window: Arc<Semaphore>,
    counters: Arc<Counters>,
    recorder: SharedRecorder,
}

impl ConfirmTracker {
    /// Removes the settled sequence numbers and returns their send times.
    fn settle(&self, tag: u64, multiple: bool) -> Vec<u64> {
        let mut pending = self.pending.lock();
        let settled: Vec<u64> = if multiple {
            let rest = pending.split_off(&(tag + 1));
            std::mem::replace(&mut *pending, rest)
                .into_values()
                .collect()
        } else {
            pending.remove(&tag).into_iter().collect()
        };
        drop(pending);
        self.window.add_permits(settled.len());
        settled
    }
}

#[async_trait]
impl amqprs::callbacks::ChannelCallback for ConfirmTracker {
    async fn close(
        &mut self,
        _: &Channel,
        close: CloseChannel,
    ) -> Result<(), amqprs::error::Error> {
        tracing::warn!(%close, "producer channel closed by the broker");
        Ok(())
    }

    async fn cancel(&mut self, _: &Channel, _: Cancel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }

    async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }

    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        let settled = self.settle(ack.delivery_tag(), ack.mutiple());
        let now = now_nanos();
        let measuring = self.counters.measuring.load(Ordering::Relaxed);
        let mut rec = self.recorder.lock();
        for sent in &settled {
            rec.record(now.saturating_sub(*sent) / 1000, measuring);
        }
        drop(rec);
        let n = settled.len() as u64;
        self.counters.confirmed.fetch_add(n, Ordering::Relaxed);
    }

    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        let n = self.settle(nack.delivery_tag(), nack.multiple()).len() as u64;
        self.counters.nacked.fetch_add(n, Ordering::Relaxed);
    }

    async fn publish_return(&mut self, _: &Channel, _: Return, _: BasicProperties, _: Vec<u8>) {}
}
