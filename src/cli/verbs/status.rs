//! `status`: the node's identity, versions, uptime and listeners from `/api/overview`
//! and `/api/nodes`.

use std::io::Write;

use serde_json::{Value, json};

use super::Context;
use crate::cli::args::Formatter;
use crate::cli::error::CliError;
use crate::cli::format::stdout_error;

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// `status`.
pub fn status(ctx: &Context<'_>, out: &mut dyn Write) -> Result<(), CliError> {
    let overview = ctx.client.get("/overview")?;
    if !overview.is_object() {
        return Err(CliError::BadAnswer(
            "overview is not a JSON object".to_string(),
        ));
    }
    let node = text(overview.get("node"));
    let nodes = ctx.client.get("/nodes")?;
    let this = nodes
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|n| n.get("name").and_then(Value::as_str) == Some(node.as_str()))
        })
        .cloned()
        .unwrap_or(Value::Null);
    let uptime = this
        .get("uptime")
        .and_then(Value::as_u64)
        .map(|ms| ms / 1000);
    let listeners: Vec<Value> = overview
        .get("listeners")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .map(|x| json!({"interface": x.get("ip_address"), "port": x.get("port"), "protocol": x.get("protocol")}))
                .collect()
        })
        .unwrap_or_default();
    if ctx.output.formatter == Formatter::Json {
        let summary = json!({
            "node_name": node,
            "rabbitmq_version": overview.get("rabbitmq_version"),
            "product_name": overview.get("product_name"),
            "product_version": overview.get("product_version"),
            "erlang_version": overview.get("erlang_version"),
            "uptime": uptime,
            "os_pid": this.get("os_pid"),
            "listeners": listeners,
        });
        return writeln!(out, "{summary}").map_err(stdout_error);
    }
    ctx.output
        .banner(out, &format!("Status of node {node} ..."))?;
    let mut lines = vec![
        "Runtime".to_string(),
        String::new(),
        format!("Product name: {}", text(overview.get("product_name"))),
        format!("Product version: {}", text(overview.get("product_version"))),
        format!(
            "RabbitMQ version: {}",
            text(overview.get("rabbitmq_version"))
        ),
        format!("Node name: {node}"),
    ];
    if let Some(secs) = uptime {
        lines.push(format!("Uptime (seconds): {secs}"));
    }
    lines.extend(["".to_string(), "Listeners".to_string(), String::new()]);
    for l in &listeners {
        lines.push(format!(
            "Interface: {}, port: {}, protocol: {}",
            text(l.get("interface")),
            text(l.get("port")),
            text(l.get("protocol"))
        ));
    }
    writeln!(out, "{}", lines.join("\n")).map_err(stdout_error)
}
