//! queue.declare / bind / unbind / purge / delete.

use super::{authorize, authorize_binding, authorize_name, random_name};
use crate::access::{Permission, ResourceKind};
use crate::broker::exchange::Destination;
use crate::broker::queue::args::QueueType;
use crate::broker::vhost::{QueueDeclareRequest, is_reply_address};
use crate::channel::{Channel, ChannelContext};
use crate::error::AmqpError;
use crate::protocol::{
    FieldValue, Method, QueueBind, QueueBindOk, QueueDeclare, QueueDeclareOk, QueueDelete,
    QueueDeleteOk, QueuePurge, QueuePurgeOk, QueueUnbind, QueueUnbindOk, ReplyCode, ShortStr,
};

/// The queue a method names; an empty name means the channel's last declared queue, as
/// the spec (and RabbitMQ) say.
pub(in crate::channel) fn resolve_queue_name(
    ch: &Channel,
    name: &ShortStr,
) -> Result<ShortStr, AmqpError> {
    if !name.is_empty() {
        return Ok(name.clone());
    }
    ch.last_queue
        .clone()
        .ok_or_else(|| AmqpError::new(ReplyCode::NotFound, "no previously declared queue"))
}

pub(super) fn declare(
    ch: &mut Channel,
    m: QueueDeclare,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let name = if m.queue.is_empty() && !m.passive {
        // RabbitMQ refuses server-named quorum and stream queues before any other check.
        let queue_type = match m.arguments.get("x-queue-type") {
            Some(FieldValue::LongStr(t)) if t.as_ref() == b"quorum" => QueueType::Quorum,
            Some(FieldValue::LongStr(t)) if t.as_ref() == b"stream" => QueueType::Stream,
            _ => QueueType::Classic,
        };
        if let Some(text) = queue_type.server_named_refusal() {
            return Err(AmqpError::precondition(text));
        }
        ShortStr::from(random_name("amq.gen-"))
    } else if m.queue == super::basic::DIRECT_REPLY_TO || is_reply_address(&m.queue) {
        // Direct reply-to: declaring the pseudo-queue, or a live reply address, answers as
        // for a queue with one consumer, passive or not; an unknown address is 404.
        if m.queue != super::basic::DIRECT_REPLY_TO && ctx.vhost.queue(&m.queue).is_none() {
            return Err(AmqpError::not_found(
                "queue",
                &m.queue.to_string_lossy(),
                &ctx.vhost.name,
            ));
        }
        if !m.nowait {
            let ok = QueueDeclareOk {
                queue: m.queue,
                message_count: 0,
                // RabbitMQ always reports one consumer for these.
                consumer_count: 1,
            };
            ctx.sink.method(ch.id, &Method::QueueDeclareOk(ok));
        }
        return Ok(());
    } else if m.passive {
        // RabbitMQ does not stand an empty name in for the last declared queue here: a
        // passive declare of "" is 404 "no queue ''".
        m.queue.clone()
    } else {
        if m.queue.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "queue name '{}' contains reserved prefix 'amq.*'",
                m.queue
            )));
        }
        // A new queue keeps its name: detached from the read buffer (see ShortStr::detached).
        resolve_queue_name(ch, &m.queue)?.detached()
    };
    if !m.passive {
        authorize(ch, ctx, ResourceKind::Queue, &name, Permission::Configure)?;
        if ctx.vhost.queue(&name).is_none()
            && let Some(FieldValue::LongStr(dlx)) = m.arguments.get("x-dead-letter-exchange")
        {
            // A new queue that dead-letters: read on it, write on its dead-letter exchange.
            authorize(ch, ctx, ResourceKind::Queue, &name, Permission::Read)?;
            let dlx = String::from_utf8_lossy(dlx);
            authorize_name(ch, ctx, ResourceKind::Exchange, &dlx, Permission::Write)?;
        }
    }
    let max_queues = ctx.broker.access.vhost_limits(&ctx.vhost.name).max_queues;
    let declared = ctx.vhost.declare_queue(QueueDeclareRequest {
        name: name.clone(),
        passive: m.passive,
        durable: m.durable,
        exclusive: m.exclusive,
        auto_delete: m.auto_delete,
        arguments: m.arguments.detached(),
        connection_id: ctx.connection_id,
        max_queues,
    })?;
    ch.last_queue = Some(name.clone());
    if !m.nowait {
        let ok = QueueDeclareOk {
            queue: name,
            message_count: declared.message_count,
            consumer_count: declared.consumer_count,
        };
        ctx.sink.method(ch.id, &Method::QueueDeclareOk(ok));
    }
    Ok(())
}

pub(super) fn bind(
    ch: &mut Channel,
    m: QueueBind,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let queue = resolve_queue_name(ch, &m.queue)?;
    let key = if m.routing_key.is_empty() && m.queue.is_empty() {
        queue.clone()
    } else {
        m.routing_key
    };
    authorize_binding(ch, ctx, &m.exchange, (ResourceKind::Queue, &queue), &key)?;
    // Kept for the binding's life: detached from the read buffer.
    ctx.vhost.bind(
        &m.exchange,
        Destination::Queue(queue.detached()),
        &key.detached(),
        &m.arguments.detached(),
        ctx.connection_id,
    )?;
    if !m.nowait {
        ctx.sink.method(ch.id, &Method::QueueBindOk(QueueBindOk));
    }
    Ok(())
}

pub(super) fn unbind(
    ch: &mut Channel,
    m: QueueUnbind,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let queue = resolve_queue_name(ch, &m.queue)?;
    authorize_binding(
        ch,
        ctx,
        &m.exchange,
        (ResourceKind::Queue, &queue),
        &m.routing_key,
    )?;
    ctx.vhost.unbind(
        &m.exchange,
        Destination::Queue(queue),
        &m.routing_key,
        &m.arguments,
        ctx.connection_id,
    )?;
    ctx.sink
        .method(ch.id, &Method::QueueUnbindOk(QueueUnbindOk));
    Ok(())
}

pub(super) fn purge(
    ch: &mut Channel,
    m: QueuePurge,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let name = resolve_queue_name(ch, &m.queue)?;
    authorize(ch, ctx, ResourceKind::Queue, &name, Permission::Read)?;
    let queue = ctx.vhost.queue_or_404(&name)?;
    queue.check_access(ctx.connection_id)?;
    let message_count = queue.purge();
    if !m.nowait {
        ctx.sink
            .method(ch.id, &Method::QueuePurgeOk(QueuePurgeOk { message_count }));
    }
    Ok(())
}

pub(super) fn delete(
    ch: &mut Channel,
    m: QueueDelete,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let name = resolve_queue_name(ch, &m.queue)?;
    authorize(ch, ctx, ResourceKind::Queue, &name, Permission::Configure)?;
    let message_count =
        ctx.vhost
            .delete_queue(&name, m.if_unused, m.if_empty, ctx.connection_id)?;
    if !m.nowait {
        ctx.sink.method(
            ch.id,
            &Method::QueueDeleteOk(QueueDeleteOk { message_count }),
        );
    }
    Ok(())
}
