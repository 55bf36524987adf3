//! Users, vhosts and permissions: `add_user`, `delete_user`, `change_password`,
//! `set_user_tags`, `add_vhost`, `delete_vhost`, `set_permissions`, `clear_permissions`.

use std::io::Write;

use serde_json::{Value, json};

use super::{Context, say};
use crate::cli::client::seg;
use crate::cli::error::CliError;

fn user_missing(name: &str) -> impl Fn(CliError) -> CliError + '_ {
    move |e| match e {
        CliError::NotFound { .. } => CliError::NotFound {
            what: format!("User \"{name}\""),
            user: true,
        },
        other => other,
    }
}

fn vhost_missing(name: &str) -> impl Fn(CliError) -> CliError + '_ {
    move |e| match e {
        CliError::NotFound { .. } => CliError::NotFound {
            what: format!("Virtual host '{name}'"),
            user: false,
        },
        other => other,
    }
}

/// The user's current record (404 → the user does not exist).
fn user_record(ctx: &Context<'_>, name: &str) -> Result<Value, CliError> {
    ctx.client
        .get(&format!("/users/{}", seg(name)))
        .map_err(user_missing(name))
}

/// Tags as the API wants them in a PUT (a comma-separated string, which 3.x accepts).
fn tags_text(record: &Value) -> String {
    match record.get("tags") {
        Some(Value::Array(tags)) => tags
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// `add_user NAME PASSWORD`: fails if the user exists, as rabbitmqctl.
pub fn add_user(
    ctx: &Context<'_>,
    name: &str,
    password: &str,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    say(ctx, out, &format!("Adding user \"{name}\" ..."))?;
    match user_record(ctx, name) {
        Ok(_) => {
            return Err(CliError::AlreadyExists(format!("User \"{name}\"")));
        }
        Err(CliError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    ctx.client.put(
        &format!("/users/{}", seg(name)),
        &json!({"password": password, "tags": ""}),
    )?;
    Ok(())
}

/// `delete_user NAME`.
pub fn delete_user(ctx: &Context<'_>, name: &str, out: &mut dyn Write) -> Result<(), CliError> {
    say(ctx, out, &format!("Deleting user \"{name}\" ..."))?;
    ctx.client
        .delete(&format!("/users/{}", seg(name)), &[])
        .map_err(user_missing(name))?;
    Ok(())
}

/// `change_password NAME PASSWORD`, keeping the user's tags.
pub fn change_password(
    ctx: &Context<'_>,
    name: &str,
    password: &str,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    say(
        ctx,
        out,
        &format!("Changing password for user \"{name}\" ..."),
    )?;
    let record = user_record(ctx, name)?;
    ctx.client.put(
        &format!("/users/{}", seg(name)),
        &json!({"password": password, "tags": tags_text(&record)}),
    )?;
    Ok(())
}

/// `set_user_tags NAME TAG...`, keeping the password.
pub fn set_user_tags(
    ctx: &Context<'_>,
    name: &str,
    tags: &[String],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    say(
        ctx,
        out,
        &format!(
            "Setting tags for user \"{name}\" to [{}] ...",
            tags.join(", ")
        ),
    )?;
    let record = user_record(ctx, name)?;
    let mut body = json!({"tags": tags.join(",")});
    match record.get("password_hash").and_then(Value::as_str) {
        Some(hash) if !hash.is_empty() => {
            body["password_hash"] = Value::from(hash);
            if let Some(alg) = record.get("hashing_algorithm").and_then(Value::as_str) {
                body["hashing_algorithm"] = Value::from(alg);
            }
        }
        _ => body["password_hash"] = Value::from(""),
    }
    ctx.client.put(&format!("/users/{}", seg(name)), &body)?;
    Ok(())
}

/// `add_vhost NAME`.
pub fn add_vhost(ctx: &Context<'_>, name: &str, out: &mut dyn Write) -> Result<(), CliError> {
    say(ctx, out, &format!("Adding vhost \"{name}\" ..."))?;
    ctx.client
        .put(&format!("/vhosts/{}", seg(name)), &json!({}))?;
    Ok(())
}

/// `delete_vhost NAME`.
pub fn delete_vhost(ctx: &Context<'_>, name: &str, out: &mut dyn Write) -> Result<(), CliError> {
    say(ctx, out, &format!("Deleting vhost \"{name}\" ..."))?;
    ctx.client
        .delete(&format!("/vhosts/{}", seg(name)), &[])
        .map_err(vhost_missing(name))?;
    Ok(())
}

/// `set_permissions [-p VHOST] USER CONF WRITE READ`.
pub fn set_permissions(
    ctx: &Context<'_>,
    user: &str,
    [configure, write, read]: [&String; 3],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    say(
        ctx,
        out,
        &format!(
            "Setting permissions for user \"{user}\" in vhost \"{}\" ...",
            ctx.vhost
        ),
    )?;
    user_record(ctx, user)?;
    ctx.client
        .get(&format!("/vhosts/{}", seg(ctx.vhost)))
        .map_err(vhost_missing(ctx.vhost))?;
    ctx.client.put(
        &format!("/permissions/{}/{}", seg(ctx.vhost), seg(user)),
        &json!({"configure": configure, "write": write, "read": read}),
    )?;
    Ok(())
}

/// `clear_permissions [-p VHOST] USER`.
pub fn clear_permissions(
    ctx: &Context<'_>,
    user: &str,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    say(
        ctx,
        out,
        &format!(
            "Clearing permissions for user \"{user}\" in vhost \"{}\" ...",
            ctx.vhost
        ),
    )?;
    user_record(ctx, user)?;
    match ctx.client.delete(
        &format!("/permissions/{}/{}", seg(ctx.vhost), seg(user)),
        &[],
    ) {
        Ok(_) | Err(CliError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
