//! Method handlers, one file per AMQP class; this file only routes a method to its handler.

pub(super) mod basic;
mod exchange;
pub(super) mod publish;
mod queue;
mod tx;

use super::assembler::PendingContent;
use super::{Channel, ChannelContext};
use crate::access::{Permission, ResourceKind};
use crate::broker::exchange::ExchangeKind;
use crate::error::AmqpError;
use crate::protocol::{AccessRequestOk, ChannelFlowOk, Method, ReplyCode, ShortStr};

/// Checks that the connection's user has `permission` on a resource of the channel's vhost
/// (through the channel's decision cache); the 403 is RabbitMQ's.
pub(super) fn authorize(
    ch: &mut Channel,
    ctx: &ChannelContext<'_>,
    kind: ResourceKind,
    name: &ShortStr,
    permission: Permission,
) -> Result<(), AmqpError> {
    authorize_name(ch, ctx, kind, &name.to_string_lossy(), permission)
}

/// [`authorize`] for a name that is not a short string (an argument's value).
pub(super) fn authorize_name(
    ch: &mut Channel,
    ctx: &ChannelContext<'_>,
    kind: ResourceKind,
    name: &str,
    permission: Permission,
) -> Result<(), AmqpError> {
    ch.access
        .check(
            &ctx.broker.access,
            ctx.user,
            &ctx.vhost.name,
            kind,
            name,
            permission,
        )
        .map_err(AmqpError::from)
}

/// Checks a topic permission for `routing_key` when `exchange` is a topic exchange the user
/// has a topic permission on (publish: write; bind and unbind: read).
pub(super) fn authorize_topic(
    ch: &mut Channel,
    ctx: &ChannelContext<'_>,
    exchange: &ShortStr,
    routing_key: &ShortStr,
    permission: Permission,
) -> Result<(), AmqpError> {
    let access = &ctx.broker.access;
    let name = exchange.to_string_lossy();
    if !ch
        .access
        .has_topic_rule(access, ctx.user, &ctx.vhost.name, &name)
    {
        return Ok(());
    }
    match ctx.vhost.exchange(exchange) {
        // Publishing to an internal exchange is refused by routing first.
        Some(x)
            if x.kind == ExchangeKind::Topic
                && !(permission == Permission::Write && x.internal) =>
        {
            ch.access
                .check_topic(
                    access,
                    ctx.user,
                    &ctx.vhost.name,
                    &name,
                    &routing_key.to_string_lossy(),
                    permission,
                )
                .map_err(AmqpError::from)
        }
        _ => Ok(()),
    }
}

/// basic.publish's permissions, in RabbitMQ's order: write on the exchange (the default
/// exchange as `amq.default`), then (if it exists and is a topic exchange) the topic
/// permission on the routing key. The cached grant makes the common case lock-free.
pub(in crate::channel) fn authorize_publish(
    ch: &mut Channel,
    content: &PendingContent,
    ctx: &ChannelContext<'_>,
) -> Result<(), AmqpError> {
    let publish = &content.publish;
    authorize(
        ch,
        ctx,
        ResourceKind::Exchange,
        &publish.exchange,
        Permission::Write,
    )?;
    if publish.exchange.is_empty() {
        return Ok(());
    }
    // A missing or internal exchange is refused by routing, before the topic check.
    authorize_topic(
        ch,
        ctx,
        &publish.exchange,
        &publish.routing_key,
        Permission::Write,
    )
}

/// The permissions of a binding change (queue.bind/unbind, exchange.bind/unbind), in
/// RabbitMQ's order: write on the destination, then (unless either end is the default
/// exchange, which the vhost refuses) read on the source and the topic permission on the
/// binding key.
pub(super) fn authorize_binding(
    ch: &mut Channel,
    ctx: &ChannelContext<'_>,
    source: &ShortStr,
    destination: (ResourceKind, &ShortStr),
    routing_key: &ShortStr,
) -> Result<(), AmqpError> {
    let (kind, name) = destination;
    authorize(ch, ctx, kind, name, Permission::Write)?;
    if source.is_empty() || (kind == ResourceKind::Exchange && name.is_empty()) {
        return Ok(());
    }
    authorize(ch, ctx, ResourceKind::Exchange, source, Permission::Read)?;
    authorize_topic(ch, ctx, source, routing_key, Permission::Read)
}

/// Runs one method on an open channel.
pub(super) fn dispatch(
    ch: &mut Channel,
    method: Method,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    match method {
        Method::ExchangeDeclare(m) => exchange::declare(ch, m, ctx),
        Method::ExchangeDelete(m) => exchange::delete(ch, m, ctx),
        Method::ExchangeBind(m) => exchange::bind(ch, m, ctx),
        Method::ExchangeUnbind(m) => exchange::unbind(ch, m, ctx),
        Method::QueueDeclare(m) => queue::declare(ch, m, ctx),
        Method::QueueBind(m) => queue::bind(ch, m, ctx),
        Method::QueueUnbind(m) => queue::unbind(ch, m, ctx),
        Method::QueuePurge(m) => queue::purge(ch, m, ctx),
        Method::QueueDelete(m) => queue::delete(ch, m, ctx),
        Method::BasicQos(m) => basic::qos(ch, m, ctx),
        Method::BasicConsume(m) => basic::consume(ch, m, ctx),
        Method::BasicCancel(m) => basic::cancel(ch, m, ctx),
        Method::BasicPublish(m) => publish::start_publish(ch, m),
        Method::BasicGet(m) => basic::get(ch, m, ctx),
        Method::BasicAck(m) => basic::settle(ch, m.delivery_tag, m.multiple, None, ctx),
        Method::BasicReject(m) => basic::settle(ch, m.delivery_tag, false, Some(m.requeue), ctx),
        Method::BasicNack(m) => basic::settle(ch, m.delivery_tag, m.multiple, Some(m.requeue), ctx),
        Method::BasicRecover(m) => basic::recover(ch, m.requeue, true, ctx),
        Method::BasicRecoverAsync(m) => basic::recover(ch, m.requeue, false, ctx),
        Method::ConfirmSelect(m) => tx::confirm_select(ch, m, ctx),
        Method::TxSelect(_) => tx::select(ch, ctx),
        Method::TxCommit(_) => tx::commit(ch, ctx),
        Method::TxRollback(_) => tx::rollback(ch, ctx),
        Method::ChannelFlow(m) => {
            if !m.active {
                return Err(AmqpError::new(ReplyCode::NotImplemented, "active=false"));
            }
            ctx.sink.method(
                ch.id,
                &Method::ChannelFlowOk(ChannelFlowOk { active: true }),
            );
            Ok(())
        }
        Method::AccessRequest(_) => {
            ctx.sink.method(
                ch.id,
                &Method::AccessRequestOk(AccessRequestOk { ticket: 1 }),
            );
            Ok(())
        }
        // Methods only a server sends, or connection methods on a channel: RabbitMQ's text.
        _ => Err(AmqpError::new(
            ReplyCode::CommandInvalid,
            "unimplemented method",
        )),
    }
}

/// A random suffix for server-generated names (`amq.gen-…`, `amq.ctag-…`): 22 characters
/// of the URL-safe base64 alphabet, like RabbitMQ's.
pub(crate) fn random_name(prefix: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = String::with_capacity(prefix.len() + 22);
    name.push_str(prefix);
    for _ in 0..22 {
        let idx = usize::from(rand::random::<u8>() & 63);
        name.push(char::from(ALPHABET[idx]));
    }
    name
}
