//! basic.publish: the start of a publish, the checks made before routing (user-id,
//! internal exchanges), and routing a complete message to its queues with mandatory
//! returns and publisher-confirm bookkeeping.

use super::basic::rewrite_reply_to;
use crate::broker::consumer::ConnectionEvent;
use crate::broker::message::Message;
use crate::broker::queue::PublishOutcome;
use crate::broker::queue::args::QueueType;
use crate::broker::queue::dead_letter::{cc_bcc, strip_bcc};
use crate::broker::queue::expiration::parse_expiration;
use crate::broker::vhost::store_publish;
use crate::channel::assembler::PendingContent;
use crate::channel::{Channel, ChannelContext};
use crate::error::AmqpError;
use crate::protocol::{
    BasicProperties, BasicPublish, BasicReturn, Method, PropertySummary, ReplyCode, ShortStr,
    summarize_properties,
};
use std::sync::Arc;

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
    let expiration = match &summary.expiration {
        Some(raw) => Some(parse_expiration(raw.as_bytes()).map_err(AmqpError::precondition)?),
        None => None,
    };
    if let Some(mode) = summary.delivery_mode.filter(|m| !matches!(m, 1 | 2)) {
        return Err(AmqpError::precondition(format!(
            "invalid message: {{delivery_mode_unknown,{mode}}}"
        )));
    }
    let PendingContent {
        publish,
        mut raw_properties,
        body_size,
        body,
        ..
    } = content;
    if let Some(rewritten) = rewrite_reply_to(ch, &raw_properties)? {
        raw_properties = rewritten;
    }
    ctx.vhost.route(
        &publish.exchange,
        &publish.routing_key,
        &raw_properties,
        &mut ch.scratch,
    )?;
    let mut bcc_keys = Vec::new();
    if summary.has_headers {
        // Sender-selected distribution: CC and BCC headers add routing keys; BCC is removed
        // before delivery.
        if let Ok(props) = BasicProperties::decode(&raw_properties)
            && let Some(headers) = &props.headers
        {
            let (cc, bcc) = cc_bcc(headers).map_err(AmqpError::precondition)?;
            for key in cc.into_iter().chain(bcc.iter().cloned()) {
                if let Some(key) = ShortStr::from_bytes(key) {
                    ctx.vhost.route_more(
                        &publish.exchange,
                        &key,
                        &raw_properties,
                        &mut ch.scratch,
                        true,
                    )?;
                }
            }
            if let Ok(Some(stripped)) = strip_bcc(&raw_properties) {
                raw_properties = stripped;
            }
            bcc_keys = bcc;
        }
    }
    let message = Arc::new(Message {
        id: Message::next_id(),
        exchange: publish.exchange,
        routing_key: publish.routing_key,
        raw_properties,
        body,
        body_size,
        persistent: summary.delivery_mode == Some(2),
        priority: summary.priority,
        expiration,
        published_at_ms: crate::broker::message::unix_millis_now(),
        bcc: bcc_keys,
        store_gate: Default::default(),
    });
    let seq = ch.confirms.as_mut().map(|c| c.next_sequence());
    // A direct reply-to address is reached out of band in RabbitMQ and counts as no queue:
    // a mandatory reply is delivered and returned too.
    let routed = ch
        .scratch
        .queues
        .iter()
        .any(|q| !crate::broker::vhost::is_reply_address(q.name()));
    {
        use crate::metrics::counters::{channel as c, exchange as x};
        let counters = &ch.info.counters;
        counters.add(c::PUBLISH, 1);
        if seq.is_some() {
            counters.add(c::PUBLISH_CONFIRM, 1);
        }
        if routed {
            counters.add(c::ROUTED, 1);
        } else if publish.mandatory {
            counters.add(c::RETURN_UNROUTABLE, 1);
        } else {
            counters.add(c::DROP_UNROUTABLE, 1);
        }
        if let Some(first) = &ch.scratch.first {
            first.stats.counters.add(x::PUBLISH_IN, 1);
            if routed {
                first.stats.counters.add(x::PUBLISH_OUT, 1);
            }
        }
    }
    let mut rejected = false;
    let mut entries = Vec::new();
    for queue in ch.scratch.queues.drain(..) {
        match queue.publish(Arc::clone(&message)) {
            PublishOutcome::Rejected => rejected = true,
            PublishOutcome::Accepted(Some(entry)) => entries.push((queue, entry)),
            PublishOutcome::Accepted(None) => {}
        }
    }
    if !entries.is_empty() {
        // Stored once for all its queues; a confirm waits for the commit (of a persistent
        // message, or of any message a quorum queue took: it keeps them all), and the
        // connection pauses reading while too much is waiting for the disk.
        let kept = message.persistent
            || entries
                .iter()
                .any(|(q, _)| q.args.queue_type == QueueType::Quorum);
        let confirm = seq.filter(|_| kept);
        if let (Some(seq), Some(confirms)) = (confirm, ch.confirms.as_mut()) {
            confirms.hold(seq);
        }
        let inbox = ctx.inbox.clone();
        let channel = ch.id;
        let backlog = Arc::clone(ctx.store_backlog);
        let size = message.body_size;
        backlog.add(size);
        let tx_failed = ch.tx_store_failed.clone();
        let after: Box<dyn FnOnce(bool) + Send> = Box::new(move |ok| {
            backlog.sub(size);
            if let (false, Some(failed)) = (ok, tx_failed) {
                failed.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            if let Some(seq) = confirm {
                let _ = inbox.send(ConnectionEvent::Persisted { channel, seq, ok });
            }
        });
        store_publish(
            &ctx.broker.alarms,
            &ctx.broker.store,
            &message,
            entries,
            Some(after),
        );
        ch.stored_since_commit = true;
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
    ch.refused_since_commit |= rejected;
    if let (Some(confirms), Some(seq)) = (ch.confirms.as_mut(), seq)
        && rejected
    {
        confirms.nack(seq);
    }
    if !routed && seq.is_some() {
        // RabbitMQ confirms a publish that reached no queue while handling it.
        ch.flush_confirms(ctx.sink);
    }
    Ok(())
}
