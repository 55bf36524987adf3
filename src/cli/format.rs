//! Output as rabbitmqctl prints it: a "Listing ..." banner, a tab-separated header line
//! and rows (`--formatter table`), or one JSON object per line inside `[` `]`
//! (`--formatter json`, no banner).

use std::io::Write;

use serde_json::Value;

use super::args::Formatter;
use super::error::CliError;

/// How the user asked for output.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Table or JSON.
    pub formatter: Formatter,
    /// No banner.
    pub quiet: bool,
    /// Print the table's header line.
    pub headers: bool,
}

/// A listing: column names and one cell per column in each row.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The rabbitmqctl column keys.
    pub columns: Vec<String>,
    /// The rows, each as long as `columns`.
    pub rows: Vec<Vec<Value>>,
}

impl Output {
    /// Prints the banner line (`Listing queues for vhost / ...`) unless quiet or JSON.
    pub fn banner(&self, out: &mut dyn Write, text: &str) -> Result<(), CliError> {
        if self.quiet || self.formatter == Formatter::Json {
            return Ok(());
        }
        writeln!(out, "{text}").map_err(stdout_error)
    }

    /// Prints a table in the chosen format.
    pub fn table(&self, out: &mut dyn Write, table: &Table) -> Result<(), CliError> {
        let text = match self.formatter {
            Formatter::Table => render_table(table, self.headers),
            Formatter::Json => render_json(table),
        };
        out.write_all(text.as_bytes()).map_err(stdout_error)
    }
}

/// Standard output could not be written.
pub fn stdout_error(source: std::io::Error) -> CliError {
    CliError::Io {
        path: "standard output".to_string(),
        source,
    }
}

/// The tab-separated form; the header line only when there are rows, as rabbitmqctl.
pub fn render_table(table: &Table, headers: bool) -> String {
    let mut text = String::new();
    if table.rows.is_empty() {
        return text;
    }
    if headers {
        text.push_str(&table.columns.join("\t"));
        text.push('\n');
    }
    for row in &table.rows {
        let cells: Vec<String> = table
            .columns
            .iter()
            .zip(row)
            .map(|(column, cell)| table_cell(column, cell))
            .collect();
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    text
}

/// The JSON form: `[`, one object per line (later ones led by `,`), `]`.
pub fn render_json(table: &Table) -> String {
    let mut text = String::from("[\n");
    for (i, row) in table.rows.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let fields: Vec<String> = table
            .columns
            .iter()
            .zip(row)
            .map(|(column, cell)| {
                format!(
                    "{}:{}",
                    Value::from(column.as_str()),
                    json_cell(column, cell)
                )
            })
            .collect();
        text.push('{');
        text.push_str(&fields.join(","));
        text.push_str("}\n");
    }
    text.push_str("]\n");
    text
}

/// One cell as rabbitmqctl's table shows it: strings bare, lists as `[a, b]`, arguments
/// as an Erlang proplist `[{"k",v}]`, other objects as JSON, missing as empty.
pub fn table_cell(column: &str, cell: &Value) -> String {
    match cell {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => cell.to_string(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(|v| table_cell("", v)).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) if column == "arguments" => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{{{},{}}}", Value::from(k.as_str()), v))
                .collect();
            format!("[{}]", inner.join(","))
        }
        Value::Object(_) => cell.to_string(),
    }
}

/// One cell as rabbitmqctl's JSON shows it: arguments as `[[key, type, value]]`.
pub fn json_cell(column: &str, cell: &Value) -> Value {
    match cell {
        Value::Object(map) if column == "arguments" => Value::Array(
            map.iter()
                .map(|(k, v)| {
                    Value::Array(vec![
                        Value::from(k.as_str()),
                        Value::from(amqp_type(v)),
                        v.clone(),
                    ])
                })
                .collect(),
        ),
        Value::Null if column == "arguments" => Value::Array(Vec::new()),
        other => other.clone(),
    }
}

/// The AMQP field type name RabbitMQ reports for an argument value.
fn amqp_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "longstr",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "double",
        Value::Number(_) => "long",
        Value::Array(_) => "array",
        Value::Object(_) => "table",
        Value::Null => "void",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> Table {
        Table {
            columns: vec!["name".into(), "messages".into(), "arguments".into()],
            rows: vec![
                vec![json!("a"), json!(1), json!({})],
                vec![
                    json!("b"),
                    json!(0),
                    json!({"x-max-length": 5, "x-queue-mode": "lazy"}),
                ],
            ],
        }
    }

    #[test]
    fn tables_are_tab_separated_with_a_header() {
        assert_eq!(
            render_table(&table(), true),
            "name\tmessages\targuments\na\t1\t[]\nb\t0\t[{\"x-max-length\",5},{\"x-queue-mode\",\"lazy\"}]\n"
        );
        assert_eq!(
            render_table(
                &Table {
                    columns: vec!["name".into()],
                    rows: vec![]
                },
                true
            ),
            ""
        );
    }

    #[test]
    fn json_is_one_object_a_line() {
        assert_eq!(
            render_json(&table()),
            "[\n{\"name\":\"a\",\"messages\":1,\"arguments\":[]}\n,{\"name\":\"b\",\"messages\":0,\"arguments\":[[\"x-max-length\",\"long\",5],[\"x-queue-mode\",\"longstr\",\"lazy\"]]}\n]\n"
        );
        assert_eq!(
            render_json(&Table {
                columns: vec![],
                rows: vec![]
            }),
            "[\n]\n"
        );
    }

    #[test]
    fn lists_are_bracketed() {
        assert_eq!(
            table_cell("tags", &json!(["administrator", "monitoring"])),
            "[administrator, monitoring]"
        );
    }
}
