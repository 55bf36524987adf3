//! tx.select / commit / rollback and confirm.select (the two modes exclude each other).

use super::basic::apply_settlement;
use crate::broker::consumer::ConnectionEvent;
use crate::channel::confirms::Confirms;
use crate::channel::{Channel, ChannelContext, TxAction};
use crate::error::AmqpError;
use crate::protocol::{
    ConfirmSelect, ConfirmSelectOk, Method, TxCommitOk, TxRollbackOk, TxSelectOk,
};
use crate::store::{Completion, StoreOp};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub(super) fn confirm_select(
    ch: &mut Channel,
    m: ConfirmSelect,
    ctx: &mut ChannelContext<'_>,
) -> Result<(), AmqpError> {
    if ch.tx.is_some() {
        return Err(AmqpError::precondition(
            "cannot switch from tx to confirm mode",
        ));
    }
    if ch.confirms.is_none() {
        ch.confirms = Some(Confirms::default());
    }
    if !m.nowait {
        ctx.sink
            .method(ch.id, &Method::ConfirmSelectOk(ConfirmSelectOk));
    }
    Ok(())
}

pub(super) fn select(ch: &mut Channel, ctx: &mut ChannelContext<'_>) -> Result<(), AmqpError> {
    if ch.confirms.is_some() {
        return Err(AmqpError::precondition(
            "cannot switch from confirm to tx mode",
        ));
    }
    if ch.tx.is_none() {
        ch.tx = Some(Vec::new());
    }
    ctx.sink.method(ch.id, &Method::TxSelectOk(TxSelectOk));
    Ok(())
}

pub(super) fn commit(ch: &mut Channel, ctx: &mut ChannelContext<'_>) -> Result<(), AmqpError> {
    let Some(actions) = ch.tx.as_mut().map(std::mem::take) else {
        return Err(AmqpError::precondition("channel is not transactional"));
    };
    ch.stored_since_commit = false;
    ch.refused_since_commit = false;
    let failed = Arc::new(AtomicBool::new(false));
    ch.tx_store_failed = Some(Arc::clone(&failed));
    let mut outcome = Ok(());
    for action in actions {
        match action {
            TxAction::Publish(content) => {
                outcome = super::publish::publish(ch, content, ctx);
                if outcome.is_err() {
                    break;
                }
            }
            TxAction::Settle { entries, requeue } => apply_settlement(ch, entries, requeue),
        }
    }
    ch.tx_store_failed = None;
    outcome?;
    if ch.refused_since_commit {
        // What fitted stays published, as in RabbitMQ; the channel is closed.
        return Err(AmqpError::precondition("partial tx completion"));
    }
    let channel = ch.id;
    if ch.stored_since_commit {
        // commit-ok only once the published persistent messages are on disk: a barrier op
        // completes after everything queued before it (the store's writer is FIFO).
        let inbox = ctx.inbox.clone();
        // commit-ok only if every publish of the transaction was stored (in cluster mode:
        // committed to the log); the barrier's own write comes after them all.
        let done: Completion = Box::new(move |result| {
            let ok = result.is_ok() && !failed.load(Ordering::Relaxed);
            let _ = inbox.send(ConnectionEvent::TxCommitted { channel, ok });
        });
        let barrier = StoreOp::MarkDelivered { queue: 0, up_to: 0 };
        ctx.broker.store.submit(barrier, Some(done));
        return Ok(());
    }
    // Through the connection's inbox, behind the deliveries the commit caused to this
    // connection's consumers: as in RabbitMQ, they arrive before commit-ok.
    if ctx
        .inbox
        .send(ConnectionEvent::TxCommitted { channel, ok: true })
        .is_err()
    {
        ctx.sink.method(ch.id, &Method::TxCommitOk(TxCommitOk));
    }
    Ok(())
}

pub(super) fn rollback(ch: &mut Channel, ctx: &mut ChannelContext<'_>) -> Result<(), AmqpError> {
    let Some(actions) = ch.tx.as_mut().map(std::mem::take) else {
        return Err(AmqpError::precondition("channel is not transactional"));
    };
    for action in actions {
        if let TxAction::Settle { entries, .. } = action {
            ch.unacked.restore(entries);
        }
    }
    ctx.sink.method(ch.id, &Method::TxRollbackOk(TxRollbackOk));
    Ok(())
}
