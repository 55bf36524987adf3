//! `purge_queue` and `delete_queue`.

use std::io::Write;

use serde_json::Value;

use super::{Context, say};
use crate::cli::client::seg;
use crate::cli::error::CliError;

fn queue_missing<'a>(ctx: &'a Context<'_>, name: &'a str) -> impl Fn(CliError) -> CliError + 'a {
    move |e| match e {
        CliError::NotFound { .. } => CliError::NotFound {
            what: format!("Queue '{name}' in vhost '{}'", ctx.vhost),
            user: false,
        },
        other => other,
    }
}

/// `purge_queue [-p VHOST] QUEUE`.
pub fn purge(ctx: &Context<'_>, name: &str, out: &mut dyn Write) -> Result<(), CliError> {
    say(
        ctx,
        out,
        &format!("Purging queue '{name}' in vhost '{}' ...", ctx.vhost),
    )?;
    ctx.client
        .delete(
            &format!("/queues/{}/{}/contents", seg(ctx.vhost), seg(name)),
            &[],
        )
        .map_err(queue_missing(ctx, name))?;
    Ok(())
}

/// `delete_queue [-p VHOST] [--if-unused] [--if-empty] QUEUE`; reports how many messages
/// went with it, as rabbitmqctl.
pub fn delete(
    ctx: &Context<'_>,
    name: &str,
    if_unused: bool,
    if_empty: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    say(
        ctx,
        out,
        &format!("Deleting queue '{name}' on vhost '{}' ...", ctx.vhost),
    )?;
    let path = format!("/queues/{}/{}", seg(ctx.vhost), seg(name));
    let record = ctx.client.get(&path).map_err(queue_missing(ctx, name))?;
    let messages = record.get("messages").and_then(Value::as_u64).unwrap_or(0);
    let mut query = Vec::new();
    if if_empty {
        query.push("if-empty=true");
    }
    if if_unused {
        query.push("if-unused=true");
    }
    let full = if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    };
    ctx.client
        .delete(&full, &[])
        .map_err(queue_missing(ctx, name))?;
    writeln!(
        out,
        "Queue was successfully deleted with {messages} messages"
    )
    .map_err(crate::cli::format::stdout_error)
}
