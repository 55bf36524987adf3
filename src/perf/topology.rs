//! Who publishes and consumes where: queue names, routes, and declaring and deleting them.

use amqprs::channel::{
    Channel, ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments,
    QueueDeleteArguments,
};

use super::args::{ExchangeKind, PerfArgs};
use super::error::PerfError;

/// The queues of a run and how producers and consumers map onto them.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Queue names, in order.
    pub queues: Vec<String>,
    /// Exchange producers publish to ("" for the default exchange).
    pub exchange: String,
    /// Whether each message goes to every queue.
    pub fanout: bool,
    /// Whether queues are durable (persistent runs).
    pub durable: bool,
    /// Whether queues are quorum queues.
    pub quorum: bool,
}

impl Plan {
    /// The plan described by `args`.
    pub fn new(args: &PerfArgs) -> Result<Plan, PerfError> {
        let n = args.queues as usize;
        if n > 1 && !args.queue_pattern.contains("%d") {
            return Err(PerfError::Options(
                "--queue-pattern needs %d when --queues is above 1".into(),
            ));
        }
        if args.kind == ExchangeKind::Fanout && args.exchange.is_empty() {
            return Err(PerfError::Options("--type fanout needs --exchange".into()));
        }
        if args.producers == 0 && args.consumers == 0 {
            return Err(PerfError::Options("no producers and no consumers".into()));
        }
        let queues = (1..=n)
            .map(|i| args.queue_pattern.replace("%d", &i.to_string()))
            .collect();
        Ok(Plan {
            queues,
            exchange: args.exchange.clone(),
            fanout: args.kind == ExchangeKind::Fanout,
            durable: args.persistent || args.quorum,
            quorum: args.quorum,
        })
    }

    /// The queue producer `i` publishes to (its routing key).
    pub fn producer_queue(&self, i: usize) -> &str {
        &self.queues[i % self.queues.len()]
    }

    /// The queue consumer `j` consumes from.
    pub fn consumer_queue(&self, j: usize) -> &str {
        &self.queues[j % self.queues.len()]
    }

    /// How many deliveries one message of producer `i` makes, given `consumers`
    /// consumers: the queues it reaches that have a consumer.
    pub fn deliveries_per_message(&self, i: usize, consumers: usize) -> u64 {
        let consumed = consumers.min(self.queues.len());
        if self.fanout {
            consumed as u64
        } else {
            u64::from(i % self.queues.len() < consumed)
        }
    }

    /// Declares the exchange, the queues and their bindings.
    pub async fn declare(&self, ch: &Channel) -> Result<(), PerfError> {
        // amq.* exchanges exist already and may not be declared non-passively.
        if !self.exchange.is_empty() && !self.exchange.starts_with("amq.") {
            let kind = if self.fanout { "fanout" } else { "direct" };
            ch.exchange_declare(ExchangeDeclareArguments::new(&self.exchange, kind))
                .await
                .map_err(PerfError::amqp(format!(
                    "declaring exchange {}",
                    self.exchange
                )))?;
        }
        for q in &self.queues {
            let mut args = QueueDeclareArguments::new(q);
            args.durable(self.durable);
            if self.quorum {
                let mut table = amqprs::FieldTable::new();
                let (Ok(key), Ok(value)) = (
                    amqprs::FieldName::try_from("x-queue-type"),
                    amqprs::LongStr::try_from("quorum"),
                ) else {
                    return Err(PerfError::Options("x-queue-type".into()));
                };
                table.insert(key, amqprs::FieldValue::S(value));
                args.arguments(table);
            }
            ch.queue_declare(args.finish())
                .await
                .map_err(PerfError::amqp(format!("declaring queue {q}")))?;
            if !self.exchange.is_empty() {
                ch.queue_bind(QueueBindArguments::new(q, &self.exchange, q))
                    .await
                    .map_err(PerfError::amqp(format!("binding queue {q}")))?;
            }
        }
        Ok(())
    }

    /// Deletes the queues (and the exchange, if one was named).
    pub async fn delete(&self, ch: &Channel) -> Result<(), PerfError> {
        for q in &self.queues {
            ch.queue_delete(QueueDeleteArguments::new(q))
                .await
                .map_err(PerfError::amqp(format!("deleting queue {q}")))?;
        }
        if !self.exchange.is_empty() && !self.exchange.starts_with("amq.") {
            ch.exchange_delete(amqprs::channel::ExchangeDeleteArguments::new(
                &self.exchange,
            ))
            .await
            .map_err(PerfError::amqp(format!(
                "deleting exchange {}",
                self.exchange
            )))?;
        }
        Ok(())
    }
}
