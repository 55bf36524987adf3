//! basic.*: qos, consume, cancel, publish, get, ack / nack / reject, recover.

use super::queue::resolve_queue_name;
use super::random_name;
use crate::access::{Permission, ResourceKind};
use crate::broker::consumer::{Consumer, Credit};
use crate::broker::queue::Queue;
use crate::broker::queue::args::{QueueType, consumer_priority};
use crate::broker::queue::delivery_count::{Handout, properties_for};
use crate::broker::queue::quorum;
use crate::broker::vhost::QueueDeclareRequest;
use crate::channel::unacked::{UnackedEntry, UnknownTag};
use crate::channel::{Channel, ChannelConsumer, ChannelContext, TxAction};
use crate::error::AmqpError;
use crate::protocol::{
    BasicCancel, BasicCancelOk, BasicConsume, BasicConsumeOk, BasicGet, BasicGetEmpty, BasicGetOk,
    BasicProperties, BasicQos, BasicQosOk, BasicRecoverOk, Method, ReplyCode, ShortStr,
};
use std::sync::Arc;

pub(super) fn qos(
    ch: &mut Channel,
    m: BasicQos,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    if m.prefetch_size != 0 {
        return Err(AmqpError::new(
            ReplyCode::NotImplemented,
            format!("prefetch_size!=0 ({})", m.prefetch_size),
        ));
    }
    let count = u32::from(m.prefetch_count);
    if m.global {
        ch.channel_credit.set_limit(count);
        poke_consumed_queues(ch);
    } else {
        // RabbitMQ quirk, kept because clients see it: a per-consumer qos also lifts the
        // channel-wide limit ("ensures that if default was set, it's overridden").
        ch.consumer_prefetch = count;
        ch.channel_credit.set_limit(0);
        poke_consumed_queues(ch);
    }
    ctx.sink.method(ch.id, &Method::BasicQosOk(BasicQosOk));
    Ok(())
}

pub(super) fn consume(
    ch: &mut Channel,
    m: BasicConsume,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let queue = if m.queue == DIRECT_REPLY_TO {
        direct_reply_queue(ch, &m, ctx)?
    } else {
        let name = resolve_queue_name(ch, &m.queue)?;
        super::authorize(ch, ctx, ResourceKind::Queue, &name, Permission::Read)?;
        let queue = ctx.vhost.queue_or_404(&name)?;
        queue.check_access(ctx.connection_id)?;
        queue
    };
    let tag = if m.consumer_tag.is_empty() {
        ShortStr::from(random_name("amq.ctag-"))
    } else {
        // Kept while the consumer lives: not a slice pinning the read buffer.
        m.consumer_tag.detached()
    };
    if ch.consumers.contains_key(&tag) {
        return Err(AmqpError::new(
            ReplyCode::NotAllowed,
            format!("attempt to reuse consumer tag '{tag}'"),
        ));
    }
    let priority = consumer_priority(
        &m.arguments,
        queue.args.queue_type,
        &queue.name().to_string_lossy(),
        &queue.vhost_name,
    )
    .map_err(AmqpError::precondition)?;
    if queue.args.queue_type == QueueType::Quorum && ch.channel_credit.limit() > 0 {
        return Err(quorum::global_qos_refusal(
            &queue.name().to_string_lossy(),
            &queue.vhost_name,
        ));
    }
    let credit = Arc::new(Credit::new(ch.consumer_prefetch));
    let consumer = Consumer {
        tag: tag.clone(),
        connection_id: ctx.connection_id,
        channel: ch.id,
        no_ack: m.no_ack,
        exclusive: m.exclusive,
        priority,
        credit: Arc::clone(&credit),
        channel_credit: Arc::clone(&ch.channel_credit),
        inbox: ctx.inbox.clone(),
        flow: Arc::clone(ctx.flow),
    };
    ch.consumers.insert(
        tag.clone(),
        ChannelConsumer {
            queue: Arc::clone(&queue),
            credit,
            no_ack: m.no_ack,
        },
    );
    // Deliveries started here reach the client after consume-ok: they travel through the
    // connection's inbox, which is read only after this frame's replies are queued.
    if let Err(e) = queue.add_consumer(consumer) {
        ch.consumers.remove(&tag);
        return Err(e);
    }
    ch.info
        .consumers
        .lock()
        .push(crate::broker::connections::ConsumerInfo {
            tag: tag.to_string_lossy().into_owned(),
            queue: queue.name().to_string_lossy().into_owned(),
            vhost: Arc::clone(&queue.vhost_name),
            ack_required: !m.no_ack,
            exclusive: m.exclusive,
            prefetch_count: ch.consumer_prefetch,
            arguments: m.arguments.detached(),
        });
    if !m.nowait {
        ctx.sink.method(
            ch.id,
            &Method::BasicConsumeOk(BasicConsumeOk { consumer_tag: tag }),
        );
    }
    Ok(())
}

/// The pseudo-queue name clients consume from for direct reply-to.
pub(in crate::channel) const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// Direct reply-to (RabbitMQ's `amq.rabbitmq.reply-to`): consuming from the pseudo-queue
/// creates a hidden exclusive queue for this channel; publishes from the channel that name
/// the pseudo-queue in reply-to are rewritten to it, so replies route to it by name.
fn direct_reply_queue(
    ch: &mut Channel,
    m: &BasicConsume,
    ctx: &mut ChannelContext<'_>,
) -> Result<Arc<Queue>, AmqpError> {
    if !m.no_ack {
        return Err(AmqpError::precondition("reply consumer cannot acknowledge"));
    }
    if ch.reply_queue.is_some() {
        return Err(AmqpError::precondition("reply consumer already set"));
    }
    let name = ShortStr::from(random_name("amq.rabbitmq.reply-to."));
    let declared = ctx.vhost.declare_queue(QueueDeclareRequest {
        name: name.clone(),
        passive: false,
        durable: false,
        exclusive: true,
        auto_delete: true,
        arguments: Default::default(),
        connection_id: ctx.connection_id,
        // Not a queue to RabbitMQ's queue limit.
        max_queues: None,
    })?;
    ch.reply_queue = Some(name);
    Ok(declared.queue)
}

/// Rewrites a reply-to of `amq.rabbitmq.reply-to` to this channel's reply queue; 406 when
/// the channel has no reply consumer, as in RabbitMQ.
pub(in crate::channel) fn rewrite_reply_to(
    ch: &Channel,
    raw_properties: &bytes::Bytes,
) -> Result<Option<bytes::Bytes>, AmqpError> {
    // A cheap byte search first: decoding every message's properties would cost more.
    let needle = DIRECT_REPLY_TO.as_bytes();
    if !raw_properties.windows(needle.len()).any(|w| w == needle) {
        return Ok(None);
    }
    let Ok(mut props) = BasicProperties::decode(raw_properties) else {
        return Ok(None);
    };
    if props
        .reply_to
        .as_ref()
        .is_none_or(|r| r.as_bytes() != needle)
    {
        return Ok(None);
    }
    let Some(queue) = &ch.reply_queue else {
        return Err(AmqpError::precondition(
            "fast reply consumer does not exist",
        ));
    };
    props.reply_to = Some(queue.clone());
    Ok(Some(props.to_raw()))
}

pub(super) fn cancel(
    ch: &mut Channel,
    m: BasicCancel,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    if let Some(consumer) = ch.consumers.remove(&m.consumer_tag) {
        if ch.reply_queue.as_ref() == Some(consumer.queue.name()) {
            ch.reply_queue = None;
        }
        // As in RabbitMQ, a cancelled consumer keeps its unacked deliveries until they are
        // settled or its channel closes.
        let holds_nothing = !ch.unacked.holds_for(&m.consumer_tag);
        let removal = consumer.queue.remove_consumer(
            ctx.connection_id,
            ch.id,
            &m.consumer_tag,
            holds_nothing,
        );
        if !holds_nothing
            && consumer.queue.args.single_active_consumer
            && !ch
                .awaiting_settle
                .iter()
                .any(|q| Arc::ptr_eq(q, &consumer.queue))
        {
            ch.awaiting_settle.push(Arc::clone(&consumer.queue));
        }
        if removal.now_unused {
            ctx.vhost.remove_queue(&consumer.queue);
        }
    }
    if !m.nowait {
        let ok = BasicCancelOk {
            consumer_tag: m.consumer_tag,
        };
        ctx.sink.method(ch.id, &Method::BasicCancelOk(ok));
    }
    Ok(())
}

pub(super) fn get(
    ch: &mut Channel,
    m: BasicGet,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let name = resolve_queue_name(ch, &m.queue)?;
    super::authorize(ch, ctx, ResourceKind::Queue, &name, Permission::Read)?;
    let queue = ctx.vhost.queue_or_404(&name)?;
    queue.check_access(ctx.connection_id)?;
    use crate::metrics::counters::{channel as c, queue as q};
    let Some((qm, message_count)) = queue.get(m.no_ack) else {
        ch.info.counters.add(c::GET_EMPTY, 1);
        ctx.sink
            .method(ch.id, &Method::BasicGetEmpty(BasicGetEmpty::default()));
        return Ok(());
    };
    let (ci, qi) = if m.no_ack {
        (c::GET_NO_ACK, q::GET_NO_ACK)
    } else {
        (c::GET, q::GET)
    };
    ch.info.counters.add(ci, 1);
    queue.stats.counters.add(qi, 1);
    if qm.redelivered {
        ch.info.counters.add(c::REDELIVER, 1);
        queue.stats.counters.add(q::REDELIVER, 1);
    }
    let tag = ch.next_delivery_tag;
    ch.next_delivery_tag += 1;
    let ok = BasicGetOk {
        delivery_tag: tag,
        redelivered: qm.redelivered,
        exchange: qm.message.exchange.clone(),
        routing_key: qm.message.routing_key.clone(),
        message_count,
    };
    ctx.sink.method(ch.id, &Method::BasicGetOk(ok));
    let msg = &qm.message;
    let properties = properties_for(
        &msg.raw_properties,
        queue.args.queue_type,
        qm.delivery_count,
        Handout::Get,
    );
    ctx.sink
        .content(ch.id, &properties, &msg.body, msg.body_size, ctx.frame_max);
    if m.no_ack {
        queue.forget_stored(&qm);
    } else {
        queue.mark_delivered(&qm);
        ch.unacked.insert(
            tag,
            UnackedEntry {
                queue,
                message: qm,
                credit: None,
                consumer_tag: None,
                delivered_at: tokio::time::Instant::now(),
            },
        );
    }
    Ok(())
}

/// basic.ack (`requeue` None), basic.nack and basic.reject (`requeue` Some).
pub(super) fn settle(
    ch: &mut Channel,
    tag: u64,
    multiple: bool,
    requeue: Option<bool>,
    _ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let entries = ch
        .unacked
        .take(tag, multiple)
        .map_err(|UnknownTag(t)| AmqpError::precondition(format!("unknown delivery tag {t}")))?;
    if let Some(tx) = ch.tx.as_mut() {
        tx.push(TxAction::Settle { entries, requeue });
        return Ok(());
    }
    apply_settlement(ch, entries, requeue);
    Ok(())
}

/// Acks, requeues or discards taken entries and hands their credit back.
pub(in crate::channel) fn apply_settlement(
    ch: &mut Channel,
    entries: Vec<(u64, UnackedEntry)>,
    requeue: Option<bool>,
) {
    let mut released = false;
    for (_, e) in &entries {
        if let Some(credit) = &e.credit {
            credit.release(1);
            ch.channel_credit.release(1);
            released = true;
        }
    }
    match requeue {
        Some(true) => requeue_per_consumer(entries),
        Some(false) => {
            for (queue, group) in group_by_queue(entries) {
                queue.reject(group.into_iter().map(|e| e.message).collect());
            }
        }
        None => {
            ch.info
                .counters
                .add(crate::metrics::counters::channel::ACK, entries.len() as u64);
            for (queue, group) in group_by_queue(entries) {
                let messages: Vec<_> = group.into_iter().map(|e| e.message).collect();
                queue.ack(&messages);
            }
        }
    }
    if released {
        poke_consumed_queues(ch);
    }
    if !ch.awaiting_settle.is_empty() {
        poke_settled_queues(ch);
    }
}

/// Pokes the queues a cancelled consumer of this channel held deliveries from once none
/// are left, so a single-active-consumer queue serves its next consumer.
fn poke_settled_queues(ch: &mut Channel) {
    let consumers = &ch.consumers;
    let unacked = &ch.unacked;
    let mut settled = Vec::new();
    ch.awaiting_settle.retain(|q| {
        let still_held = unacked.holds_from(q, |tag| !consumers.contains_key(tag));
        if !still_held {
            settled.push(Arc::clone(q));
        }
        still_held
    });
    for q in settled {
        q.dispatch();
    }
}

/// basic.recover and basic.nack/reject with requeue, as RabbitMQ does them: per queue, one
/// consumer at a time (basic.get deliveries first, then consumer tags in byte order), each
/// group returned and redelivered before the next. A lone consumer's order is unchanged.
fn requeue_per_consumer(entries: Vec<(u64, UnackedEntry)>) {
    for (queue, mut group) in group_by_queue(entries) {
        // Stable: each consumer's messages keep their delivery order.
        group.sort_by(|a, b| a.consumer_tag.cmp(&b.consumer_tag));
        let mut rest = group.into_iter().peekable();
        while let Some(first) = rest.next() {
            let tag = first.consumer_tag.clone();
            let mut batch = vec![first.message];
            while let Some(next) = rest.next_if(|e| e.consumer_tag == tag) {
                batch.push(next.message);
            }
            queue.requeue(batch);
        }
    }
}

/// Groups consecutive entries by queue (deliveries from one queue are usually adjacent).
fn group_by_queue(entries: Vec<(u64, UnackedEntry)>) -> Vec<(Arc<Queue>, Vec<UnackedEntry>)> {
    let mut groups: Vec<(Arc<Queue>, Vec<UnackedEntry>)> = Vec::new();
    for (_, e) in entries {
        match groups.iter_mut().find(|(q, _)| Arc::ptr_eq(q, &e.queue)) {
            Some((_, group)) => group.push(e),
            None => groups.push((Arc::clone(&e.queue), vec![e])),
        }
    }
    groups
}

/// Credit came back: let each queue this channel consumes from deliver again.
fn poke_consumed_queues(ch: &Channel) {
    let mut seen: Vec<&Arc<Queue>> = Vec::new();
    for c in ch.consumers.values() {
        if c.no_ack || seen.iter().any(|q| Arc::ptr_eq(q, &c.queue)) {
            continue;
        }
        seen.push(&c.queue);
        c.queue.dispatch();
    }
}

pub(super) fn recover(
    ch: &mut Channel,
    requeue: bool,
    reply: bool,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    if !requeue {
        return Err(AmqpError::new(ReplyCode::NotImplemented, "requeue=false"));
    }
    let entries = ch.unacked.take_all();
    apply_settlement(ch, entries, Some(true));
    if reply {
        ctx.sink
            .method(ch.id, &Method::BasicRecoverOk(BasicRecoverOk));
    }
    Ok(())
}
