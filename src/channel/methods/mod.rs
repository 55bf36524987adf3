//! Method handlers, one file per AMQP class; this file only routes a method to its handler.

pub(super) mod basic;
mod exchange;
mod queue;
mod tx;

use super::{Channel, ChannelContext};
use crate::error::AmqpError;
use crate::protocol::{AccessRequestOk, ChannelFlowOk, Method, ReplyCode};

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
        Method::BasicPublish(m) => basic::start_publish(ch, m),
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
