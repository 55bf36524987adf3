//! basic.*: qos, consume, cancel, publish, get, ack / nack / reject, recover.

use super::queue::resolve_queue_name;
use super::random_name;
use crate::broker::consumer::{Consumer, Credit};
use crate::broker::message::Message;
use crate::broker::queue::Queue;
use crate::channel::assembler::PendingContent;
use crate::channel::unacked::{UnackedEntry, UnknownTag};
use crate::channel::{Channel, ChannelConsumer, ChannelContext, TxAction};
use crate::error::AmqpError;
use crate::protocol::{
    BasicCancel, BasicCancelOk, BasicConsume, BasicConsumeOk, BasicGet, BasicGetEmpty, BasicGetOk,
    BasicPublish, BasicQos, BasicQosOk, BasicRecoverOk, BasicReturn, Method, PropertySummary,
    ReplyCode, ShortStr, summarize_properties,
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
        ch.consumer_prefetch = count;
    }
    ctx.sink.method(ch.id, &Method::BasicQosOk(BasicQosOk));
    Ok(())
}

pub(super) fn consume(
    ch: &mut Channel,
    m: BasicConsume,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let name = resolve_queue_name(ch, &m.queue)?;
    let queue = ctx.vhost.queue_or_404(&name)?;
    queue.check_access(ctx.connection_id)?;
    let tag = if m.consumer_tag.is_empty() {
        ShortStr::from(random_name("amq.ctag-"))
    } else {
        m.consumer_tag
    };
    if ch.consumers.contains_key(&tag) {
        return Err(AmqpError::new(
            ReplyCode::NotAllowed,
            format!("attempt to reuse consumer tag '{tag}'"),
        ));
    }
    let credit = Arc::new(Credit::new(ch.consumer_prefetch));
    let consumer = Consumer {
        tag: tag.clone(),
        connection_id: ctx.connection_id,
        channel: ch.id,
        no_ack: m.no_ack,
        exclusive: m.exclusive,
        credit: Arc::clone(&credit),
        channel_credit: Arc::clone(&ch.channel_credit),
        inbox: ctx.inbox.clone(),
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
    if !m.nowait {
        ctx.sink.method(
            ch.id,
            &Method::BasicConsumeOk(BasicConsumeOk { consumer_tag: tag }),
        );
    }
    Ok(())
}

pub(super) fn cancel(
    ch: &mut Channel,
    m: BasicCancel,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    if let Some(consumer) = ch.consumers.remove(&m.consumer_tag) {
        let removal =
            consumer
                .queue
                .remove_consumers(ctx.connection_id, ch.id, Some(&m.consumer_tag));
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

pub(super) fn start_publish(ch: &mut Channel, m: BasicPublish) -> Result<(), AmqpError> {
    if m.immediate {
        return Err(AmqpError::new(ReplyCode::NotImplemented, "immediate=true"));
    }
    ch.assembler.start(m);
    Ok(())
}

/// Checks what can be checked before routing: the user-id property and the exchange.
pub(in crate::channel) fn check_publish(
    content: &PendingContent,
    ctx: &ChannelContext<'_>,
) -> Result<(), AmqpError> {
    check_user_id(content, ctx)?;
    let exchange = &content.publish.exchange;
    if !exchange.is_empty() {
        let x = ctx.vhost.exchange_or_404(exchange)?;
        if x.internal {
            return Err(AmqpError::access_refused(format!(
                "cannot publish to internal exchange '{exchange}' in vhost '{}'",
                ctx.vhost.name
            )));
        }
    }
    Ok(())
}

/// Reads the properties the broker acts on and refuses a user-id property that is not the
/// connection's user, as RabbitMQ does.
fn check_user_id(
    content: &PendingContent,
    ctx: &ChannelContext<'_>,
) -> Result<PropertySummary, AmqpError> {
    let summary = summarize_properties(&content.raw_properties)
        .map_err(|e| AmqpError::new(ReplyCode::SyntaxError, e.to_string()))?;
    if let Some(user_id) = &summary.user_id
        && user_id.as_bytes() != ctx.user.as_bytes()
    {
        return Err(AmqpError::precondition(format!(
            "user_id property set to '{user_id}' but authenticated user was '{}'",
            ctx.user
        )));
    }
    Ok(summary)
}

/// Routes and enqueues a complete message, returns it if mandatory and unroutable, and
/// counts it for publisher confirms.
pub(in crate::channel) fn publish(
    ch: &mut Channel,
    content: PendingContent,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let summary = check_user_id(&content, ctx)?;
    let PendingContent {
        publish,
        raw_properties,
        body_size,
        body,
        ..
    } = content;
    ctx.vhost.route(
        &publish.exchange,
        &publish.routing_key,
        &raw_properties,
        &mut ch.scratch,
    )?;
    let message = Arc::new(Message {
        exchange: publish.exchange,
        routing_key: publish.routing_key,
        raw_properties,
        body,
        body_size,
        persistent: summary.delivery_mode == Some(2),
        priority: summary.priority,
    });
    let routed = !ch.scratch.queues.is_empty();
    for queue in ch.scratch.queues.drain(..) {
        queue.publish(Arc::clone(&message));
    }
    if !routed && publish.mandatory {
        let ret = BasicReturn {
            reply_code: ReplyCode::NoRoute.code(),
            reply_text: ShortStr::from_static("NO_ROUTE"),
            exchange: message.exchange.clone(),
            routing_key: message.routing_key.clone(),
        };
        ctx.sink.method(ch.id, &Method::BasicReturn(ret));
        ctx.sink.content(
            ch.id,
            &message.raw_properties,
            &message.body,
            message.body_size,
            ctx.frame_max,
        );
    }
    if let Some(confirms) = ch.confirms.as_mut() {
        confirms.unsent_ack = Some(confirms.next_seq);
        confirms.next_seq += 1;
    }
    Ok(())
}

pub(super) fn get(
    ch: &mut Channel,
    m: BasicGet,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let name = resolve_queue_name(ch, &m.queue)?;
    let queue = ctx.vhost.queue_or_404(&name)?;
    queue.check_access(ctx.connection_id)?;
    let Some((qm, message_count)) = queue.get(m.no_ack) else {
        ctx.sink
            .method(ch.id, &Method::BasicGetEmpty(BasicGetEmpty::default()));
        return Ok(());
    };
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
    ctx.sink.content(
        ch.id,
        &msg.raw_properties,
        &msg.body,
        msg.body_size,
        ctx.frame_max,
    );
    if !m.no_ack {
        ch.unacked.insert(
            tag,
            UnackedEntry {
                queue,
                message: qm,
                credit: None,
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
    if requeue == Some(true) {
        requeue_entries(entries);
    } else {
        for (queue, group) in group_by_queue(entries) {
            queue.settle(group.len());
        }
    }
    if released {
        poke_consumed_queues(ch);
    }
}

/// Returns deliveries to their queues, in order, marked redelivered.
pub(in crate::channel) fn requeue_entries(entries: Vec<(u64, UnackedEntry)>) {
    for (queue, group) in group_by_queue(entries) {
        queue.requeue(group.into_iter().map(|e| e.message));
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
