//! `close_connection`.

use std::io::Write;

use super::{Context, say};
use crate::cli::client::seg;
use crate::cli::error::CliError;

/// `close_connection NAME EXPLANATION`: the client gets 320 with the explanation.
pub fn close(
    ctx: &Context<'_>,
    name: &str,
    explanation: &str,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if explanation.contains(['\r', '\n']) {
        return Err(CliError::Usage(
            "the explanation must be one line".to_string(),
        ));
    }
    say(
        ctx,
        out,
        &format!("Closing connection {name}, reason: {explanation}..."),
    )?;
    ctx.client
        .delete(
            &format!("/connections/{}", seg(name)),
            &[("X-Reason", explanation)],
        )
        .map_err(|e| match e {
            CliError::NotFound { .. } => CliError::NotFound {
                what: format!("Connection '{name}'"),
                user: false,
            },
            other => other,
        })?;
    Ok(())
}
