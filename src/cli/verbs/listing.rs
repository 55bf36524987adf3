//! The `list_*` verbs: fetch the API's array, pick rabbitmqctl's columns, print.

use std::io::Write;

use serde_json::Value;

use super::Context;
use super::columns::{Kind, Source};
use crate::cli::error::CliError;
use crate::cli::format::Table;

/// Resolves the asked columns (or the defaults); an unknown one is a usage error worded
/// as rabbitmqctl's.
pub fn resolve(kind: Kind, asked: &[String]) -> Result<Vec<(String, Source)>, CliError> {
    let names: Vec<String> = if asked.is_empty() {
        kind.defaults().iter().map(|s| s.to_string()).collect()
    } else {
        asked
            .iter()
            .flat_map(|a| a.split(','))
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect()
    };
    let offered = kind.columns();
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| !offered.iter().any(|(k, _)| k == n))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(CliError::Usage(format!(
            "Info key(s) {} are not supported",
            unknown.join(",")
        )));
    }
    Ok(names
        .into_iter()
        .filter_map(|n| {
            offered
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, src)| (n.clone(), *src))
        })
        .collect())
}

/// Builds the table from the API's answer, which must be an array of objects.
pub fn build(columns: &[(String, Source)], answer: &Value) -> Result<Table, CliError> {
    let items = answer.as_array().ok_or_else(|| {
        CliError::BadAnswer(format!("expected a JSON array, got {}", short(answer)))
    })?;
    let rows = items
        .iter()
        .map(|item| columns.iter().map(|(_, src)| src.extract(item)).collect())
        .collect();
    Ok(Table {
        columns: columns.iter().map(|(n, _)| n.clone()).collect(),
        rows,
    })
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    text.chars().take(200).collect()
}

/// Runs a `list_*` verb.
pub fn list(
    ctx: &Context<'_>,
    kind: Kind,
    asked: &[String],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let columns = resolve(kind, asked)?;
    let answer = ctx.client.get(&kind.path(ctx.vhost)).map_err(|e| match e {
        CliError::NotFound { .. }
            if kind != Kind::Users
                && kind != Kind::Vhosts
                && kind != Kind::Connections
                && kind != Kind::Channels =>
        {
            CliError::NotFound {
                what: format!("Virtual host '{}'", ctx.vhost),
                user: false,
            }
        }
        other => other,
    })?;
    let table = build(&columns, &answer)?;
    ctx.output.banner(out, &kind.banner(ctx.vhost))?;
    ctx.output.table(out, &table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_columns_are_refused() {
        let err = resolve(Kind::Queues, &["name".into(), "nosuchcol".into()]).unwrap_err();
        assert_eq!(err.to_string(), "Info key(s) nosuchcol are not supported");
        assert_eq!(err.exit_code(), 64);
    }

    #[test]
    fn a_non_array_answer_is_an_error() {
        let cols = resolve(Kind::Queues, &[]).unwrap();
        assert!(matches!(
            build(&cols, &json!({"a": 1})),
            Err(CliError::BadAnswer(_))
        ));
        let t = build(&cols, &json!([{"name": "q", "messages": 2}, {"x": 1}])).unwrap();
        assert_eq!(
            t.rows,
            vec![vec![json!("q"), json!(2)], vec![Value::Null, Value::Null]]
        );
    }
}
