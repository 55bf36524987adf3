//! One consumer: its own connection and channel, prefetch, acknowledgements (single,
//! every N, or none), and the publish-to-delivery latency read from each body.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use amqprs::channel::{
    BasicAckArguments, BasicCancelArguments, BasicConsumeArguments, BasicQosArguments, Channel,
    ConsumerMessage,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use tokio::sync::{mpsc, watch};

use super::error::PerfError;
use super::stats::{Counters, LatencyLog, SharedRecorder, now_nanos};

/// How a consumer consumes.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Queue to consume from.
    pub queue: String,
    /// basic.qos prefetch count (0: unlimited).
    pub prefetch: u16,
    /// no-ack consumption.
    pub auto_ack: bool,
    /// Acknowledge every N deliveries with one multiple ack.
    pub multi_ack: u32,
    /// Where each measured delivery's latency is logged (`--latency-log`).
    pub log: Option<Arc<LatencyLog>>,
}

/// A consuming consumer, ready to [`Consumer::run`].
pub struct Consumer {
    conn: Connection,
    ch: Channel,
    tag: String,
    rx: mpsc::UnboundedReceiver<ConsumerMessage>,
    spec: ConsumerSpec,
    counters: Arc<Counters>,
    recorder: SharedRecorder,
    unacked: u32,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("spec", &self.spec)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// Opens the consumer's connection and channel and starts consuming.
    pub async fn connect(
        args: &OpenConnectionArguments,
        spec: ConsumerSpec,
        counters: Arc<Counters>,
        recorder: SharedRecorder,
    ) -> Result<Consumer, PerfError> {
        let conn = Connection::open(args)
            .await
            .map_err(PerfError::amqp("opening consumer connection"))?;
        let ch = conn
            .open_channel(None)
            .await
            .map_err(PerfError::amqp("opening consumer channel"))?;
        if spec.prefetch > 0 {
            ch.basic_qos(BasicQosArguments::new(0, spec.prefetch, false))
                .await
                .map_err(PerfError::amqp("basic.qos"))?;
        }
        let mut consume = BasicConsumeArguments::new(&spec.queue, "");
        consume.manual_ack(!spec.auto_ack);
        let (tag, rx) = ch
            .basic_consume_rx(consume.finish())
            .await
            .map_err(PerfError::amqp(format!("consuming from {}", spec.queue)))?;
        Ok(Consumer {
            conn,
            ch,
            tag,
            rx,
            spec,
            counters,
            recorder,
            unacked: 0,
        })
    }

    /// Consumes until `stop` turns true, then cancels and closes the connection.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<(), PerfError> {
        let mut last_tag = 0;
        while !*stop.borrow() {
            let msg = tokio::select! {
                m = self.rx.recv() => m,
                _ = stop.changed() => continue,
            };
            let Some(msg) = msg else {
                return Err(PerfError::Task(format!(
                    "the consumer on {} was closed by the broker",
                    self.spec.queue
                )));
            };
            last_tag = self.handle(msg).await?;
            // Take what is already buffered without waiting, then settle the partial batch.
            while let Ok(msg) = self.rx.try_recv() {
                last_tag = self.handle(msg).await?;
            }
            if self.unacked > 0 {
                self.ack(last_tag, true).await?;
            }
        }
        let _ = self
            .ch
            .basic_cancel(BasicCancelArguments::new(&self.tag))
            .await;
        if self.unacked > 0 {
            let _ = self.ack(last_tag, true).await;
        }
        let _ = self.ch.close().await;
        let _ = self.conn.close().await;
        Ok(())
    }

    /// Counts one delivery, records its latency, acknowledges when a batch is full.
    async fn handle(&mut self, msg: ConsumerMessage) -> Result<u64, PerfError> {
        let now = now_nanos();
        let tag = msg.deliver.as_ref().map_or(0, |d| d.delivery_tag());
        if let Some(sent) = msg
            .content
            .as_deref()
            .and_then(|b| b.get(..8))
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
        {
            let stamp = u64::from_be_bytes(sent);
            let nanos = now.saturating_sub(stamp);
            let measuring = self.counters.measuring.load(Ordering::Relaxed);
            self.recorder.lock().record(nanos / 1000, measuring);
            if let (Some(log), true) = (&self.spec.log, measuring) {
                log.push(stamp, nanos);
            }
        }
        self.counters.delivered.fetch_add(1, Ordering::Relaxed);
        if !self.spec.auto_ack {
            self.unacked += 1;
            if self.unacked >= self.spec.multi_ack {
                self.ack(tag, self.spec.multi_ack > 1).await?;
            }
        }
        Ok(tag)
    }

    async fn ack(&mut self, tag: u64, multiple: bool) -> Result<(), PerfError> {
        self.unacked = 0;
        self.ch
            .basic_ack(BasicAckArguments::new(tag, multiple))
            .await
            .map_err(PerfError::amqp("basic.ack"))
    }
}
