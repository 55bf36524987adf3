//! `set_policy` and `clear_policy`.

use std::io::Write;

use serde_json::{Value, json};

use super::{Context, say};
use crate::cli::client::seg;
use crate::cli::error::CliError;

/// A policy as `set_policy` takes it.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// Its name.
    pub name: &'a str,
    /// The regex of names it applies to.
    pub pattern: &'a str,
    /// Its definition as typed (a JSON object).
    pub definition: &'a str,
    /// Priority.
    pub priority: i64,
    /// `all`, `queues`, `exchanges`, ...
    pub apply_to: &'a str,
}

/// Parses a definition; it must be a JSON object.
pub fn parse_definition(text: &str) -> Result<Value, CliError> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(CliError::Data(format!(
            "policy definition must be a JSON object, got {text}"
        ))),
        Err(e) => Err(CliError::Data(format!(
            "policy definition is not JSON ({e}): {text}"
        ))),
    }
}

/// `set_policy [-p VHOST] [--priority N] [--apply-to KIND] NAME PATTERN DEFINITION`.
pub fn set_policy(
    ctx: &Context<'_>,
    policy: &Policy<'_>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let definition = parse_definition(policy.definition)?;
    say(
        ctx,
        out,
        &format!(
            "Setting policy \"{}\" for pattern \"{}\" to \"{}\" with priority \"{}\" for vhost \"{}\" ...",
            policy.name, policy.pattern, policy.definition, policy.priority, ctx.vhost
        ),
    )?;
    ctx.client.put(
        &format!("/policies/{}/{}", seg(ctx.vhost), seg(policy.name)),
        &json!({
            "pattern": policy.pattern,
            "definition": definition,
            "priority": policy.priority,
            "apply-to": policy.apply_to,
        }),
    )?;
    Ok(())
}

/// `clear_policy [-p VHOST] NAME`.
pub fn clear_policy(ctx: &Context<'_>, name: &str, out: &mut dyn Write) -> Result<(), CliError> {
    say(
        ctx,
        out,
        &format!("Clearing policy \"{name}\" on vhost \"{}\" ...", ctx.vhost),
    )?;
    ctx.client
        .delete(&format!("/policies/{}/{}", seg(ctx.vhost), seg(name)), &[])
        .map_err(|e| match e {
            CliError::NotFound { .. } => CliError::NotFound {
                what: format!("Policy \"{name}\" in vhost \"{}\"", ctx.vhost),
                user: false,
            },
            other => other,
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_must_be_objects() {
        assert!(parse_definition(r#"{"max-length":1}"#).is_ok());
        assert_eq!(parse_definition("[1]").unwrap_err().exit_code(), 65);
        assert_eq!(parse_definition("{").unwrap_err().exit_code(), 65);
    }
}
