//! `Policy`: one policy or operator policy (vhost, name, pattern, apply-to, priority,
//! definition), validated as RabbitMQ 3.10 validates it, with its error texts. Pure.
//!
//! RabbitMQ validates a policy's fields in this order: priority, pattern (a regex),
//! apply-to, definition. A definition must be a non-empty JSON object whose keys are all
//! known policy settings (operator policies know only the numeric limits); each value is
//! checked by its key's validator, and the texts print the offending value as Erlang's `~p`
//! prints the decoded JSON (`<<"abc">> is not a valid message TTL`). The HTTP API and
//! `rabbitmqctl` prefix them with "Validation failed\n\n" (see [`PolicyError::reason`]).

use regex::bytes::Regex;
use serde_json::Value;
use std::collections::BTreeMap;

/// A policy's definition: setting name → JSON value, keys in order.
pub type Definition = BTreeMap<String, Value>;

/// Regular policies or operator policies (the limits an operator imposes on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// A policy (`rabbitmqctl set_policy`, `/api/policies`).
    Policy,
    /// An operator policy (`rabbitmqctl set_operator_policy`, `/api/operator-policies`).
    Operator,
}

/// What a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApplyTo {
    /// Queues only.
    Queues,
    /// Exchanges only.
    Exchanges,
    /// Both (RabbitMQ's default).
    #[default]
    All,
}

impl ApplyTo {
    /// Parses RabbitMQ's words `queues`, `exchanges`, `all`.
    pub fn parse(text: &str) -> Result<ApplyTo, PolicyError> {
        match text {
            "queues" => Ok(ApplyTo::Queues),
            "exchanges" => Ok(ApplyTo::Exchanges),
            "all" => Ok(ApplyTo::All),
            other => Err(PolicyError::Invalid(format!(
                "apply-to '{other}' unrecognised; should be 'queues', 'exchanges' or 'all'"
            ))),
        }
    }

    /// RabbitMQ's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyTo::Queues => "queues",
            ApplyTo::Exchanges => "exchanges",
            ApplyTo::All => "all",
        }
    }
}

/// What a policy is being matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A queue.
    Queue,
    /// An exchange.
    Exchange,
}

/// A policy refused by validation, or a policy operation on something missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Validation failed; the text is RabbitMQ's (without the "Validation failed" prefix).
    #[error("{0}")]
    Invalid(String),
    /// The vhost does not exist.
    #[error("no such vhost '{0}'")]
    NoSuchVhost(String),
    /// No policy by that name (clearing).
    #[error("Parameter does not exist: '{0}'")]
    NotFound(String),
}

impl PolicyError {
    /// The reason RabbitMQ's HTTP API and CLI give: `"Validation failed\n\n<text>\n"`.
    pub fn reason(&self) -> String {
        match self {
            PolicyError::Invalid(text) => format!("Validation failed\n\n{text}\n"),
            other => other.to_string(),
        }
    }
}

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Policy or operator policy.
    pub kind: PolicyKind,
    /// Its vhost.
    pub vhost: String,
    /// Its name (unique per vhost and kind).
    pub name: String,
    /// The regular expression names are matched against (anywhere in the name, as
    /// RabbitMQ's `re:run` does).
    pub pattern: String,
    /// Queues, exchanges or both.
    pub apply_to: ApplyTo,
    /// Higher wins when several match.
    pub priority: i64,
    /// The settings it applies.
    pub definition: Definition,
    regex: Regex,
}

impl PartialEq for Policy {
    fn eq(&self, other: &Policy) -> bool {
        self.kind == other.kind
            && self.vhost == other.vhost
            && self.name == other.name
            && self.pattern == other.pattern
            && self.apply_to == other.apply_to
            && self.priority == other.priority
            && self.definition == other.definition
    }
}

/// The value validator of each policy key RabbitMQ 3.10 knows (core, mirroring, queue
/// locators, dead-letter strategy), and whether operator policies may set it.
#[derive(Clone, Copy)]
enum Check {
    /// A string: (what the error calls it).
    Str(&'static str),
    /// An integer >= min: (min, what the error calls it).
    Int(i64, &'static str),
    /// One of the words: (words, what the error calls it).
    OneOf(&'static [&'static str], &'static str),
    /// Accepted as it is (settings Warren does not act on whose RabbitMQ validation depends
    /// on other keys, such as the mirroring ones).
    Any,
}

#[rustfmt::skip]
const KEYS: &[(&str, Check, bool)] = &[
    ("alternate-exchange",      Check::Str("alternate exchange name"), false),
    ("dead-letter-exchange",    Check::Str("dead letter exchange name"), false),
    ("dead-letter-routing-key", Check::Str("dead letter routing key"), false),
    ("message-ttl",             Check::Int(0, "message TTL"), true),
    ("expires",                 Check::Int(1, "queue expiry"), true),
    ("max-length",              Check::Int(0, "maximum length"), true),
    ("max-length-bytes",        Check::Int(0, "maximum length in bytes"), true),
    ("max-in-memory-length",    Check::Int(0, "maximum memory in bytes"), true),
    ("max-in-memory-bytes",     Check::Int(0, "maximum memory in bytes"), true),
    ("delivery-limit",          Check::Int(0, "delivery limit"), true),
    ("queue-mode",              Check::OneOf(&["default", "lazy"], "queue-mode value"), false),
    ("queue-version",           Check::Int(1, "queue version"), false),
    ("overflow",                Check::OneOf(&["drop-head", "reject-publish", "reject-publish-dlx"], "overflow value"), false),
    ("max-age",                 Check::Any, false),
    ("max-segment-size",        Check::Int(0, "segment size"), false),
    ("queue-leader-locator",    Check::OneOf(&["client-local", "random", "least-leaders", "balanced"], "queue leader locator value"), false),
    ("initial-cluster-size",    Check::Int(0, "cluster size"), false),
    ("dead-letter-strategy",    Check::OneOf(&["at-most-once", "at-least-once"], "dead letter strategy"), false),
    ("queue-master-locator",    Check::OneOf(&["min-masters", "client-local", "random"], "queue master locator"), false),
    ("ha-mode",                 Check::Any, false),
    ("ha-params",               Check::Any, false),
    ("ha-sync-mode",            Check::Any, false),
    ("ha-sync-batch-size",      Check::Any, false),
    ("ha-promote-on-shutdown",  Check::Any, false),
    ("ha-promote-on-failure",   Check::Any, false),
];

impl Policy {
    /// Validates and builds a policy. `apply_to` None means `all`.
    pub fn new(
        kind: PolicyKind,
        vhost: &str,
        name: &str,
        pattern: &str,
        apply_to: Option<&str>,
        priority: i64,
        definition: &Value,
    ) -> Result<Policy, PolicyError> {
        let regex = compile_pattern(pattern)?;
        let apply_to = match apply_to {
            Some(text) => ApplyTo::parse(text)?,
            None => ApplyTo::All,
        };
        let definition = validate_definition(kind, definition)?;
        Ok(Policy {
            kind,
            vhost: vhost.to_string(),
            name: name.to_string(),
            pattern: pattern.to_string(),
            apply_to,
            priority,
            definition,
            regex,
        })
    }

    /// Whether this policy applies to a `target` called `name`.
    pub fn matches(&self, target: Target, name: &[u8]) -> bool {
        let kind_ok = matches!(
            (self.apply_to, target),
            (ApplyTo::All, _)
                | (ApplyTo::Queues, Target::Queue)
                | (ApplyTo::Exchanges, Target::Exchange)
        );
        kind_ok && self.regex.is_match(name)
    }

    /// The value of one setting, if the definition has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.definition.get(key)
    }

    /// RabbitMQ's JSON shape: `{"vhost","name","pattern","apply-to","definition","priority"}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "vhost": self.vhost,
            "name": self.name,
            "pattern": self.pattern,
            "apply-to": self.apply_to.as_str(),
            "definition": self.definition,
            "priority": self.priority,
        })
    }
}

/// Compiles a pattern; RabbitMQ's text for a bad one.
fn compile_pattern(pattern: &str) -> Result<Regex, PolicyError> {
    Regex::new(pattern).map_err(|err| {
        // RabbitMQ prints PCRE's {Message, Offset}; the regex crate words its messages
        // differently, so only the shape is RabbitMQ's.
        let detail = match &err {
            regex::Error::Syntax(text) => text.lines().last().unwrap_or_default().to_string(),
            other => other.to_string(),
        };
        PolicyError::Invalid(format!(
            "pattern should be regular expression but is invalid: {{\"{}\",0}}",
            detail.trim_start_matches("error: ")
        ))
    })
}

fn validate_definition(kind: PolicyKind, definition: &Value) -> Result<Definition, PolicyError> {
    let object = match definition {
        Value::Object(map) if map.is_empty() => {
            return Err(PolicyError::Invalid("no policy provided".into()));
        }
        Value::Object(map) => map,
        Value::Array(items) if items.is_empty() => {
            return Err(PolicyError::Invalid("no policy provided".into()));
        }
        other => {
            return Err(PolicyError::Invalid(format!(
                "definition must be a dictionary: {}",
                erlang_term(other)
            )));
        }
    };
    let known = |key: &str| {
        KEYS.iter()
            .find(|(k, _, op)| *k == key && (kind == PolicyKind::Policy || *op))
    };
    // RabbitMQ runs each known key's validator first, then refuses what is left over.
    for (key, value) in object {
        if let Some((_, check, _)) = known(key) {
            run_check(*check, value)?;
        }
    }
    let unknown: Vec<String> = object
        .iter()
        .filter(|(key, _)| known(key).is_none())
        .map(|(key, value)| format!("{{{},{}}}", erlang_binary(key), erlang_term(value)))
        .collect();
    if !unknown.is_empty() {
        return Err(PolicyError::Invalid(format!(
            "[{}] are not recognised policy settings",
            unknown.join(",")
        )));
    }
    Ok(object.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn run_check(check: Check, value: &Value) -> Result<(), PolicyError> {
    let fail = |what: &str| {
        Err(PolicyError::Invalid(format!(
            "{} is not a valid {what}",
            erlang_term(value)
        )))
    };
    match check {
        Check::Any => Ok(()),
        Check::Str(what) => match value {
            Value::String(_) => Ok(()),
            _ => fail(what),
        },
        // Erlang integers are unbounded: a value above i64 is as valid as any.
        Check::Int(min, what) => match value.as_i64().or(value.as_u64().map(|_| i64::MAX)) {
            Some(n) if n >= min && !value.is_f64() => Ok(()),
            _ => fail(what),
        },
        Check::OneOf(words, what) => match value {
            Value::String(s) if words.contains(&s.as_str()) => Ok(()),
            _ => fail(what),
        },
    }
}

/// A JSON value as Erlang's `~p` prints what RabbitMQ decoded it to: strings as binaries
/// (`<<"x">>`), objects as maps, `null` as the atom.
pub fn erlang_term(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:?}"),
            _ => n.to_string(),
        },
        Value::String(s) => erlang_binary(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(erlang_term).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} => {}", erlang_binary(k), erlang_term(v)))
                .collect();
            format!("#{{{}}}", parts.join(","))
        }
    }
}

fn erlang_binary(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 6);
    out.push_str("<<\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push_str("\">>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn make(kind: PolicyKind, def: Value) -> Result<Policy, PolicyError> {
        Policy::new(kind, "/", "p", "^q", Some("queues"), 0, &def)
    }

    fn text(r: Result<Policy, PolicyError>) -> String {
        match r {
            Err(PolicyError::Invalid(t)) => t,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn rabbitmq_validation_texts() {
        use PolicyKind::*;
        let cases: &[(PolicyKind, Value, &str)] = &[
            (
                Policy,
                json!({"message-ttl": "abc"}),
                "<<\"abc\">> is not a valid message TTL",
            ),
            (
                Policy,
                json!({"message-ttl": -1}),
                "-1 is not a valid message TTL",
            ),
            (
                Policy,
                json!({"message-ttl": 1.5}),
                "1.5 is not a valid message TTL",
            ),
            (
                Policy,
                json!({"expires": 0}),
                "0 is not a valid queue expiry",
            ),
            (
                Policy,
                json!({"max-length": -2}),
                "-2 is not a valid maximum length",
            ),
            (
                Policy,
                json!({"max-length-bytes": true}),
                "true is not a valid maximum length in bytes",
            ),
            (
                Policy,
                json!({"overflow": "drop"}),
                "<<\"drop\">> is not a valid overflow value",
            ),
            (
                Policy,
                json!({"dead-letter-exchange": 1}),
                "1 is not a valid dead letter exchange name",
            ),
            (
                Policy,
                json!({"dead-letter-routing-key": null}),
                "null is not a valid dead letter routing key",
            ),
            (
                Policy,
                json!({"alternate-exchange": ["x"]}),
                "[<<\"x\">>] is not a valid alternate exchange name",
            ),
            (
                Policy,
                json!({"queue-mode": "fast"}),
                "<<\"fast\">> is not a valid queue-mode value",
            ),
            (
                Policy,
                json!({"foo": 1}),
                "[{<<\"foo\">>,1}] are not recognised policy settings",
            ),
            (Policy, json!({}), "no policy provided"),
            (
                Policy,
                json!("x"),
                "definition must be a dictionary: <<\"x\">>",
            ),
            (
                Operator,
                json!({"dead-letter-exchange": "x"}),
                "[{<<\"dead-letter-exchange\">>,<<\"x\">>}] are not recognised policy settings",
            ),
            (
                Operator,
                json!({"max-length": -1}),
                "-1 is not a valid maximum length",
            ),
        ];
        for (kind, def, expected) in cases {
            assert_eq!(text(make(*kind, def.clone())), *expected, "{def}");
        }
    }

    #[test]
    fn apply_to_and_pattern_are_checked() {
        let bad = Policy::new(
            PolicyKind::Policy,
            "/",
            "p",
            "^q",
            Some("streams"),
            0,
            &json!({"max-length": 1}),
        );
        assert_eq!(
            text(bad),
            "apply-to 'streams' unrecognised; should be 'queues', 'exchanges' or 'all'"
        );
        let bad = Policy::new(
            PolicyKind::Policy,
            "/",
            "p",
            "(",
            None,
            0,
            &json!({"max-length": 1}),
        );
        assert!(text(bad).starts_with("pattern should be regular expression but is invalid: "));
    }

    #[test]
    fn matching_respects_apply_to_and_searches_anywhere() {
        let p = Policy::new(
            PolicyKind::Policy,
            "/",
            "p",
            "ord",
            Some("queues"),
            0,
            &json!({"max-length": 1}),
        )
        .unwrap();
        assert!(p.matches(Target::Queue, b"new-orders"));
        assert!(!p.matches(Target::Exchange, b"new-orders"));
        assert!(!p.matches(Target::Queue, b"billing"));
        let all = Policy::new(
            PolicyKind::Policy,
            "/",
            "p",
            "",
            None,
            0,
            &json!({"max-length": 1}),
        )
        .unwrap();
        assert!(all.matches(Target::Exchange, b"anything") && all.matches(Target::Queue, b""));
    }

    #[test]
    fn accepted_values_are_kept() {
        let p = make(
            PolicyKind::Policy,
            json!({"message-ttl": 0, "queue-mode": "lazy", "queue-version": 2, "ha-mode": "all"}),
        )
        .unwrap();
        assert_eq!(p.get("message-ttl"), Some(&json!(0)));
        assert_eq!(p.to_json()["apply-to"], json!("queues"));
    }
}
