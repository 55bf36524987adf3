//! `export_definitions` and `import_definitions` (`GET`/`POST /api/definitions`).

use std::io::{Read, Write};

use serde_json::Value;

use super::{Context, say};
use crate::cli::error::CliError;
use crate::cli::format::stdout_error;

/// `export_definitions FILE` (`-` for standard output).
pub fn export(ctx: &Context<'_>, file: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let definitions = ctx.client.get("/definitions")?;
    if !definitions.is_object() {
        return Err(CliError::BadAnswer(
            "definitions are not a JSON object".to_string(),
        ));
    }
    let text =
        serde_json::to_string(&definitions).map_err(|e| CliError::BadAnswer(e.to_string()))?;
    if file == "-" {
        return writeln!(out, "{text}").map_err(stdout_error);
    }
    say(
        ctx,
        out,
        &format!("Exporting definitions in JSON to a file at \"{file}\" ..."),
    )?;
    std::fs::write(file, text).map_err(|source| CliError::Io {
        path: file.to_string(),
        source,
    })
}

/// `import_definitions FILE` (`-` for standard input); the file must hold a JSON object.
pub fn import(ctx: &Context<'_>, file: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let text = if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| CliError::Io {
                path: "standard input".to_string(),
                source,
            })?;
        text
    } else {
        std::fs::read_to_string(file).map_err(|source| CliError::Io {
            path: file.to_string(),
            source,
        })?
    };
    let definitions: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::Data(format!("{file}: not JSON: {e}")))?;
    if !definitions.is_object() {
        return Err(CliError::Data(format!(
            "{file}: definitions must be a JSON object"
        )));
    }
    say(
        ctx,
        out,
        &format!("Importing definitions in JSON from a file at \"{file}\" ..."),
    )?;
    ctx.client.post("/definitions", &definitions)?;
    Ok(())
}
