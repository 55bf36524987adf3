//! exchange.declare / delete / bind / unbind.

use super::{authorize, authorize_binding, authorize_name};
use crate::access::{Permission, ResourceKind};
use crate::broker::exchange::{Destination, ExchangeKind};
use crate::channel::{Channel, ChannelContext};
use crate::error::AmqpError;
use crate::protocol::{
    ExchangeBind, ExchangeBindOk, ExchangeDeclare, ExchangeDeclareOk, ExchangeDelete,
    ExchangeDeleteOk, ExchangeUnbind, ExchangeUnbindOk, FieldValue, Method,
};

/// exchange.declare's permissions, in RabbitMQ's order: none for a passive declare;
/// configure on the exchange (after the type and default-exchange checks, which the vhost
/// makes); for a new exchange with an alternate exchange (and a name not reserved), read on
/// the exchange and write on the alternate.
fn authorize_declare(
    ch: &mut Channel,
    m: &ExchangeDeclare,
    ctx: &ChannelContext<'_>,
) -> Result<(), AmqpError> {
    if m.passive || m.exchange.is_empty() || ExchangeKind::parse(m.kind.as_bytes()).is_none() {
        return Ok(());
    }
    let x = ResourceKind::Exchange;
    authorize(ch, ctx, x, &m.exchange, Permission::Configure)?;
    if ctx.vhost.exchange(&m.exchange).is_some() || m.exchange.starts_with("amq.") {
        return Ok(());
    }
    if let Some(FieldValue::LongStr(ae)) = m.arguments.get("alternate-exchange") {
        authorize(ch, ctx, x, &m.exchange, Permission::Read)?;
        authorize_name(ch, ctx, x, &String::from_utf8_lossy(ae), Permission::Write)?;
    }
    Ok(())
}

pub(super) fn declare(
    ch: &mut Channel,
    m: ExchangeDeclare,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    authorize_declare(ch, &m, ctx)?;
    // Kept for the exchange's life: detached from the read buffer (see ShortStr::detached).
    ctx.vhost.declare_exchange(
        &m.exchange.detached(),
        &m.kind,
        m.passive,
        m.durable,
        m.auto_delete,
        m.internal,
        &m.arguments.detached(),
    )?;
    if !m.nowait {
        ctx.sink
            .method(ch.id, &Method::ExchangeDeclareOk(ExchangeDeclareOk));
    }
    Ok(())
}

pub(super) fn delete(
    ch: &mut Channel,
    m: ExchangeDelete,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    // The default exchange and amq.* are refused by the vhost before any permission.
    if !m.exchange.is_empty() && !m.exchange.starts_with("amq.") {
        authorize(
            ch,
            ctx,
            ResourceKind::Exchange,
            &m.exchange,
            Permission::Configure,
        )?;
    }
    ctx.vhost.delete_exchange(&m.exchange, m.if_unused)?;
    if !m.nowait {
        ctx.sink
            .method(ch.id, &Method::ExchangeDeleteOk(ExchangeDeleteOk));
    }
    Ok(())
}

pub(super) fn bind(
    ch: &mut Channel,
    m: ExchangeBind,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    authorize_binding(
        ch,
        ctx,
        &m.source,
        (ResourceKind::Exchange, &m.destination),
        &m.routing_key,
    )?;
    // Kept for the binding's life: detached from the read buffer.
    ctx.vhost.bind(
        &m.source,
        Destination::Exchange(m.destination.detached()),
        &m.routing_key.detached(),
        &m.arguments.detached(),
        ctx.connection_id,
    )?;
    if !m.nowait {
        ctx.sink
            .method(ch.id, &Method::ExchangeBindOk(ExchangeBindOk));
    }
    Ok(())
}

pub(super) fn unbind(
    ch: &mut Channel,
    m: ExchangeUnbind,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    authorize_binding(
        ch,
        ctx,
        &m.source,
        (ResourceKind::Exchange, &m.destination),
        &m.routing_key,
    )?;
    ctx.vhost.unbind(
        &m.source,
        Destination::Exchange(m.destination),
        &m.routing_key,
        &m.arguments,
        ctx.connection_id,
    )?;
    if !m.nowait {
        ctx.sink
            .method(ch.id, &Method::ExchangeUnbindOk(ExchangeUnbindOk));
    }
    Ok(())
}
