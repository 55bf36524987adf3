//! exchange.declare / delete / bind / unbind.

use crate::broker::exchange::Destination;
use crate::channel::{Channel, ChannelContext};
use crate::error::AmqpError;
use crate::protocol::{
    ExchangeBind, ExchangeBindOk, ExchangeDeclare, ExchangeDeclareOk, ExchangeDelete,
    ExchangeDeleteOk, ExchangeUnbind, ExchangeUnbindOk, Method,
};

pub(super) fn declare(
    ch: &mut Channel,
    m: ExchangeDeclare,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    ctx.vhost.declare_exchange(
        &m.exchange,
        &m.kind,
        m.passive,
        m.durable,
        m.auto_delete,
        m.internal,
        &m.arguments,
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
    ctx.vhost.bind(
        &m.source,
        Destination::Exchange(m.destination),
        &m.routing_key,
        &m.arguments,
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
