//! Queue and consumer x-arguments, parsed and validated exactly as RabbitMQ 3.10 does it,
//! with its reply texts (all sent with 406 PRECONDITION_FAILED). Pure: no locks, no I/O.
//!
//! RabbitMQ checks a queue.declare for a queue that does not exist yet in this order (the
//! first failure wins; redeclaring an existing queue only checks equivalence):
//! 1. `x-dead-letter-exchange` that is not a longstr: "invalid type 'T' for arg ...".
//! 2. `x-queue-type` (longstr "classic" | "quorum" | "stream").
//! 3. The validators of the arguments the queue type knows, in a fixed order (below), each
//!    looking at the first entry with its key: "invalid arg 'K' for queue 'Q' in vhost 'V': T"
//!    where T is the Erlang term RabbitMQ prints (`{value_negative,-1}`, `invalid_overflow`,
//!    `"expected integer, got double"`, ...).
//! 4. Entries, in table order, whose key belongs to another queue type only: "invalid arg 'K'
//!    for queue 'Q' in vhost 'V' of queue type rabbit_classic_queue".
//!
//! Every integer type is accepted where a number is expected (`b B s u I i l`); floats,
//! decimals, strings, booleans, timestamps, void, arrays and tables are refused. Unknown
//! keys (with or without `x-`) are ignored, as is `x-queue-master-locator`.

use crate::protocol::{FieldTable, FieldValue, ShortStr};

/// The largest TTL / expiry RabbitMQ accepts: ten years in milliseconds.
pub const MAX_EXPIRY_MS: u64 = 315_360_000_000;

/// What a queue does when full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Drop (dead-letter) the oldest message to make room.
    #[default]
    DropHead,
    /// Refuse the new message (nack it to a confirming publisher).
    RejectPublish,
    /// Refuse the new message and dead-letter it.
    RejectPublishDlx,
}

/// A quorum queue's dead-letter strategy, as declared (`x-dead-letter-strategy`) or set by
/// a policy (`dead-letter-strategy`). Warren moves a dead-lettered message to its targets
/// in one step either way; the strategy decides how RabbitMQ's dead-letter counters label
/// it (see [`crate::broker::dead_letter_totals::Strategy::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeadLetterStrategy {
    /// "at-most-once" (the default).
    #[default]
    AtMostOnce,
    /// "at-least-once": in effect only with a dead-letter exchange and overflow
    /// reject-publish, as RabbitMQ requires.
    AtLeastOnce,
}

impl DeadLetterStrategy {
    /// The strategy a declared or policy value names ("at-least-once" | "at-most-once").
    pub fn parse(value: &[u8]) -> Option<DeadLetterStrategy> {
        match value {
            b"at-most-once" => Some(DeadLetterStrategy::AtMostOnce),
            b"at-least-once" => Some(DeadLetterStrategy::AtLeastOnce),
            _ => None,
        }
    }
}

/// The queue type named by `x-queue-type`. The type decides which arguments are valid and
/// which declare flags are allowed; quorum queues also count deliveries (see
/// [`super::quorum`]). Replication is the cluster's job; on one node every type keeps its
/// messages as a classic queue does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    /// "classic" (the default).
    #[default]
    Classic,
    /// "quorum".
    Quorum,
    /// "stream".
    Stream,
}

/// The queue arguments some queue type knows: (key, validator, known to [classic, quorum,
/// stream]), validators in RabbitMQ's order (`declare_args/0` and each type's capabilities).
#[rustfmt::skip]
const QUEUE_ARGS: &[(&str, Option<Check>, [bool; 3])] = &[
    ("x-expires",                       Some(Check::Expires),            [true, true, false]),
    ("x-message-ttl",                   Some(Check::MessageTtl),         [true, true, false]),
    ("x-dead-letter-exchange",          Some(Check::DlxName),            [true, true, false]),
    ("x-dead-letter-routing-key",       Some(Check::DlxRoutingKey),      [true, true, false]),
    ("x-dead-letter-strategy",          Some(Check::DlxStrategy),        [false, true, false]),
    ("x-max-length",                    Some(Check::NonNegInt),          [true, true, false]),
    ("x-max-length-bytes",              Some(Check::NonNegInt),          [true, true, true]),
    ("x-max-in-memory-length",          Some(Check::NonNegInt),          [false, true, false]),
    ("x-max-in-memory-bytes",           Some(Check::NonNegInt),          [false, true, false]),
    ("x-max-priority",                  Some(Check::MaxPriority),        [true, false, false]),
    ("x-overflow",                      Some(Check::Overflow),           [true, true, false]),
    ("x-queue-mode",                    Some(Check::QueueMode),          [true, false, false]),
    ("x-queue-version",                 Some(Check::QueueVersion),       [true, false, false]),
    ("x-single-active-consumer",        Some(Check::Bool),               [true, true, false]),
    ("x-queue-type",                    Some(Check::QueueType),          [true, true, true]),
    ("x-quorum-initial-group-size",     Some(Check::InitialClusterSize), [false, true, false]),
    ("x-max-age",                       Some(Check::MaxAge),             [false, false, true]),
    ("x-stream-max-segment-size-bytes", Some(Check::NonNegInt),          [false, false, true]),
    ("x-initial-cluster-size",          Some(Check::InitialClusterSize), [false, false, true]),
    ("x-queue-leader-locator",          Some(Check::LeaderLocator),      [false, true, true]),
    ("x-queue-master-locator",          None,                            [true, false, false]),
    ("x-delivery-limit",                None,                            [false, true, false]),
];

/// The same for basic.consume arguments (`consume_args/0`).
#[rustfmt::skip]
const CONSUMER_ARGS: &[(&str, Option<Check>, [bool; 3])] = &[
    ("x-priority",              Some(Check::Int),  [true, true, false]),
    ("x-cancel-on-ha-failover", Some(Check::Bool), [true, false, false]),
    ("x-stream-offset",         None,              [false, false, true]),
    ("x-credit",                None,              [true, true, true]),
];

impl QueueType {
    /// The Erlang module RabbitMQ names in reply texts, e.g. `rabbit_classic_queue`.
    pub fn module_name(self) -> &'static str {
        match self {
            QueueType::Classic => "rabbit_classic_queue",
            QueueType::Quorum => "rabbit_quorum_queue",
            QueueType::Stream => "rabbit_stream_queue",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The 406 text for a server-named (empty name) declare of this type, which only classic
    /// queues allow: "Cannot declare a server-named queue for type rabbit_quorum_queue".
    pub fn server_named_refusal(self) -> Option<String> {
        (self != QueueType::Classic).then(|| {
            format!(
                "Cannot declare a server-named queue for type {}",
                self.module_name()
            )
        })
    }

    /// Quorum and stream queues must be durable, not exclusive and not auto-delete; the 406
    /// text RabbitMQ sends otherwise (checked after the arguments, auto-delete first).
    /// `durable` is the declare flag (RabbitMQ treats an exclusive queue as non-durable).
    pub fn check_flags(
        self,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        queue: &str,
        vhost: &str,
    ) -> Result<(), String> {
        if self == QueueType::Classic {
            return Ok(());
        }
        let property = if auto_delete {
            "auto-delete"
        } else if exclusive {
            "exclusive-owner"
        } else if !durable {
            "non-durable"
        } else {
            return Ok(());
        };
        Err(format!(
            "invalid property '{property}' for queue '{queue}' in vhost '{vhost}'"
        ))
    }
}

/// The x-arguments Warren acts on, parsed and validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueArgs {
    /// x-message-ttl, ms (0 ..= `MAX_EXPIRY_MS`).
    pub message_ttl: Option<u64>,
    /// x-expires, ms (1 ..= `MAX_EXPIRY_MS`).
    pub expires: Option<u64>,
    /// x-max-length.
    pub max_length: Option<u64>,
    /// x-max-length-bytes.
    pub max_length_bytes: Option<u64>,
    /// x-overflow (drop-head when not declared).
    pub overflow: Overflow,
    /// Whether x-overflow was declared (a policy's overflow applies only when not).
    pub overflow_declared: bool,
    /// x-dead-letter-exchange; `Some("")` is the default exchange. A name longer than 255
    /// bytes (no such exchange can exist, so RabbitMQ drops what it dead-letters) is `None`.
    pub dead_letter_exchange: Option<ShortStr>,
    /// x-dead-letter-routing-key (RabbitMQ refuses it without x-dead-letter-exchange);
    /// cut to 255 bytes.
    pub dead_letter_routing_key: Option<ShortStr>,
    /// x-max-priority, 0 ..= 255 (0 makes a queue with the single priority 0).
    pub max_priority: Option<u8>,
    /// x-single-active-consumer.
    pub single_active_consumer: bool,
    /// x-queue-type.
    pub queue_type: QueueType,
    /// x-delivery-limit of a quorum queue, when an integer (RabbitMQ accepts any value but
    /// only a number ever limits; a negative one drops a message at its first return).
    pub delivery_limit: Option<i64>,
    /// x-dead-letter-strategy of a quorum queue, when declared (it wins over a policy's).
    pub dead_letter_strategy: Option<DeadLetterStrategy>,
}

/// The limits a queue acts on: its declared arguments merged with the policy and operator
/// policy that apply to it (see `crate::policy::effective`). A queue without policies has
/// [`QueueArgs::limits`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueLimits {
    /// Message TTL, ms.
    pub message_ttl: Option<u64>,
    /// Queue expiry (unused for this long: deleted), ms.
    pub expires: Option<u64>,
    /// Most ready messages.
    pub max_length: Option<u64>,
    /// Most ready body bytes.
    pub max_length_bytes: Option<u64>,
    /// What a full queue does.
    pub overflow: Overflow,
    /// Where dead letters go (`Some("")`: the default exchange).
    pub dead_letter_exchange: Option<ShortStr>,
    /// The routing key dead letters get (their own when `None`).
    pub dead_letter_routing_key: Option<ShortStr>,
    /// Quorum queues: a message returned more often than this is dead-lettered (reason
    /// `delivery_limit`) instead of requeued. Always `None` for other queue types.
    pub delivery_limit: Option<i64>,
    /// Quorum queues: the dead-letter strategy (the argument, else the policy's).
    pub dead_letter_strategy: DeadLetterStrategy,
}

impl QueueArgs {
    /// The limits the declared arguments alone give.
    pub fn limits(&self) -> QueueLimits {
        QueueLimits {
            message_ttl: self.message_ttl,
            expires: self.expires,
            max_length: self.max_length,
            max_length_bytes: self.max_length_bytes,
            overflow: super::quorum::overflow(self.queue_type, self.overflow),
            dead_letter_exchange: self.dead_letter_exchange.clone(),
            dead_letter_routing_key: self.dead_letter_routing_key.clone(),
            delivery_limit: self.delivery_limit,
            dead_letter_strategy: self.dead_letter_strategy.unwrap_or_default(),
        }
    }
}

/// How one declare argument is validated (RabbitMQ's `declare_args/0`, in its order).
#[derive(Clone, Copy)]
enum Check {
    Int,
    Expires,
    MessageTtl,
    DlxName,
    DlxRoutingKey,
    DlxStrategy,
    NonNegInt,
    MaxPriority,
    Overflow,
    QueueMode,
    QueueVersion,
    Bool,
    QueueType,
    InitialClusterSize,
    MaxAge,
    LeaderLocator,
}

impl QueueArgs {
    /// Parses and validates; the error is the reply text RabbitMQ sends with 406
    /// PRECONDITION_FAILED, e.g. "invalid arg 'x-max-length' for queue 'q' in vhost '/':
    /// {value_negative,-1}". Call it only when creating a queue: RabbitMQ does not validate
    /// the arguments of a redeclare, it compares them with the existing queue's.
    pub fn parse(arguments: &FieldTable, queue: &str, vhost: &str) -> Result<QueueArgs, String> {
        if let Some(v) = arguments.get("x-dead-letter-exchange")
            && !matches!(v, FieldValue::LongStr(_))
        {
            return Err(format!(
                "invalid type '{}' for arg 'x-dead-letter-exchange' in queue '{queue}' in vhost \
                 '{vhost}'",
                v.rabbit_type_name()
            ));
        }
        let invalid = |key: &str, term: String| {
            format!("invalid arg '{key}' for queue '{queue}' in vhost '{vhost}': {term}")
        };
        let queue_type = match arguments.get("x-queue-type") {
            None => QueueType::Classic,
            Some(v) => {
                run_check(Check::QueueType, v, arguments)
                    .map_err(|t| invalid("x-queue-type", t))?;
                match v {
                    FieldValue::LongStr(s) if &s[..] == b"quorum" => QueueType::Quorum,
                    FieldValue::LongStr(s) if &s[..] == b"stream" => QueueType::Stream,
                    _ => QueueType::Classic,
                }
            }
        };
        validate(QUEUE_ARGS, arguments, queue_type, queue, vhost)?;
        // Past the foreign-key check every key below is one the queue type knows.
        let int = |key: &str| {
            arguments
                .get(key)
                .and_then(int_value)
                .and_then(|n| u64::try_from(n).ok())
        };
        let string = |key: &str| match arguments.get(key) {
            Some(FieldValue::LongStr(s)) => Some(s.clone()),
            _ => None,
        };
        Ok(QueueArgs {
            message_ttl: int("x-message-ttl"),
            expires: int("x-expires"),
            max_length: int("x-max-length"),
            max_length_bytes: int("x-max-length-bytes"),
            overflow: match string("x-overflow").as_deref() {
                Some(b"reject-publish") => Overflow::RejectPublish,
                Some(b"reject-publish-dlx") => Overflow::RejectPublishDlx,
                _ => Overflow::DropHead,
            },
            overflow_declared: arguments.get("x-overflow").is_some(),
            dead_letter_exchange: string("x-dead-letter-exchange").and_then(ShortStr::from_bytes),
            dead_letter_routing_key: string("x-dead-letter-routing-key")
                .and_then(|s| ShortStr::from_bytes(s.slice(..s.len().min(ShortStr::MAX_LEN)))),
            max_priority: int("x-max-priority").and_then(|n| u8::try_from(n).ok()),
            single_active_consumer: matches!(
                arguments.get("x-single-active-consumer"),
                Some(FieldValue::Bool(true))
            ),
            queue_type,
            delivery_limit: (queue_type == QueueType::Quorum)
                .then(|| arguments.get("x-delivery-limit").and_then(int_value))
                .flatten(),
            dead_letter_strategy: string("x-dead-letter-strategy")
                .filter(|_| queue_type == QueueType::Quorum)
                .and_then(|s| DeadLetterStrategy::parse(&s)),
        })
    }
}

/// Runs the validators of the arguments `queue_type` knows (in `spec` order), then refuses,
/// in table order, the first key that only other queue types know.
fn validate(
    spec: &[(&str, Option<Check>, [bool; 3])],
    arguments: &FieldTable,
    queue_type: QueueType,
    queue: &str,
    vhost: &str,
) -> Result<(), String> {
    let knows = |known: &[bool; 3]| known.get(queue_type.index()).copied().unwrap_or(false);
    for (key, check, known) in spec {
        if let (Some(check), Some(v), true) = (check, arguments.get(key), knows(known)) {
            run_check(*check, v, arguments).map_err(|term| {
                format!("invalid arg '{key}' for queue '{queue}' in vhost '{vhost}': {term}")
            })?;
        }
    }
    for (key, _) in arguments.iter() {
        if spec
            .iter()
            .any(|(k, _, known)| k.as_bytes() == key.as_bytes() && !knows(known))
        {
            return Err(format!(
                "invalid arg '{key}' for queue '{queue}' in vhost '{vhost}' of queue type {}",
                queue_type.module_name()
            ));
        }
    }
    Ok(())
}

/// Consumer arguments: the `x-priority` of a basic.consume (any integer type; 0 when absent,
/// values beyond i32 saturate). Err is the 406 text: "invalid arg 'x-priority' for queue 'q'
/// in vhost '/': \"expected integer, got longstr\"". Also checks `x-cancel-on-ha-failover`
/// (bool) and refuses the consumer arguments of other queue types (`x-stream-offset` on a
/// classic queue), as RabbitMQ does.
pub fn consumer_priority(
    arguments: &FieldTable,
    queue_type: QueueType,
    queue: &str,
    vhost: &str,
) -> Result<i32, String> {
    validate(CONSUMER_ARGS, arguments, queue_type, queue, vhost)?;
    Ok(arguments
        .get("x-priority")
        .and_then(int_value)
        .map_or(0, |n| {
            i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
        }))
}

/// The value of any integer type (all fit an i64).
pub(crate) fn int_value(v: &FieldValue) -> Option<i64> {
    Some(match *v {
        FieldValue::I8(n) => n.into(),
        FieldValue::U8(n) => n.into(),
        FieldValue::I16(n) => n.into(),
        FieldValue::U16(n) => n.into(),
        FieldValue::I32(n) => n.into(),
        FieldValue::U32(n) => n.into(),
        FieldValue::I64(n) => n,
        _ => return None,
    })
}

fn check_int(v: &FieldValue) -> Result<i64, String> {
    int_value(v).ok_or_else(|| {
        erlang_string(format!("expected integer, got {}", v.rabbit_type_name()).as_bytes())
    })
}

fn check_non_neg(v: &FieldValue) -> Result<i64, String> {
    let n = check_int(v)?;
    if n < 0 {
        Err(format!("{{value_negative,{n}}}"))
    } else {
        Ok(n)
    }
}

fn check_expiry(n: i64) -> Result<(), String> {
    if n < 0 {
        Err(format!("{{value_negative,{n}}}"))
    } else if n.unsigned_abs() > MAX_EXPIRY_MS {
        Err(format!("{{value_too_large,{n}}}"))
    } else {
        Ok(())
    }
}

/// A longstr that must be one of `allowed`; `bad` is the term for any other string.
fn check_enum(
    v: &FieldValue,
    allowed: &[&str],
    bad: impl Fn(&[u8]) -> String,
) -> Result<(), String> {
    match v {
        FieldValue::LongStr(s) if allowed.iter().any(|a| a.as_bytes() == &s[..]) => Ok(()),
        FieldValue::LongStr(s) => Err(bad(s)),
        other => Err(unacceptable(other)),
    }
}

fn unacceptable(v: &FieldValue) -> String {
    format!("{{unacceptable_type,{}}}", v.rabbit_type_name())
}

fn run_check(check: Check, v: &FieldValue, arguments: &FieldTable) -> Result<(), String> {
    let atom = |a: &'static str| move |_: &[u8]| a.to_string();
    let quoted = |what: &'static str| {
        move |s: &[u8]| {
            let mut text = format!("unsupported {what} '").into_bytes();
            text.extend_from_slice(s);
            text.push(b'\'');
            erlang_string(&text)
        }
    };
    match check {
        Check::Int => check_int(v).map(drop),
        Check::Expires => match check_int(v)? {
            0 => Err("{value_zero,0}".into()),
            n => check_expiry(n),
        },
        Check::MessageTtl => check_expiry(check_int(v)?),
        Check::NonNegInt => check_non_neg(v).map(drop),
        Check::MaxPriority => match check_non_neg(v)? {
            n if n > 255 => Err(format!("{{max_value_exceeded,{n}}}")),
            _ => Ok(()),
        },
        Check::InitialClusterSize => match check_non_neg(v)? {
            0 => Err("{value_zero,0}".into()),
            _ => Ok(()),
        },
        Check::QueueVersion => match check_non_neg(v)? {
            1 | 2 => Ok(()),
            n => Err(erlang_string(
                format!("unsupported queue version '{n}'").as_bytes(),
            )),
        },
        Check::Bool | Check::DlxName => match (check, v) {
            (Check::Bool, FieldValue::Bool(_)) | (Check::DlxName, FieldValue::LongStr(_)) => Ok(()),
            (_, other) => Err(unacceptable(other)),
        },
        Check::DlxRoutingKey => match v {
            FieldValue::LongStr(_) if arguments.get("x-dead-letter-exchange").is_none() => {
                Err("routing_key_but_no_dlx_defined".into())
            }
            FieldValue::LongStr(_) => Ok(()),
            other => Err(unacceptable(other)),
        },
        Check::DlxStrategy => check_enum(
            v,
            &["at-most-once", "at-least-once"],
            atom("invalid_dlx_strategy"),
        ),
        Check::Overflow => check_enum(
            v,
            &["drop-head", "reject-publish", "reject-publish-dlx"],
            atom("invalid_overflow"),
        ),
        Check::QueueMode => check_enum(v, &["default", "lazy"], quoted("queue mode")),
        Check::QueueType => check_enum(v, &["classic", "quorum", "stream"], quoted("queue type")),
        Check::LeaderLocator => check_enum(
            v,
            &["client-local", "balanced", "random", "least-leaders"],
            atom("invalid_queue_locator_arg"),
        ),
        Check::MaxAge => match v {
            FieldValue::LongStr(s) if max_age_ok(s) => Ok(()),
            FieldValue::LongStr(_) => Err("invalid_max_age".into()),
            other => Err(unacceptable(other)),
        },
    }
}

/// `x-max-age`: a positive number followed by one unit of Y M D h m s.
fn max_age_ok(s: &[u8]) -> bool {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, unit) = s.split_at(digits);
    let positive = number.iter().any(|&b| b != b'0');
    positive && matches!(unit, b"Y" | b"M" | b"D" | b"h" | b"m" | b"s")
}

/// `bytes` as Erlang's `~p` prints a string (a list of Latin-1 characters): in double quotes
/// with escapes when every character is printable, else as a list of integers `[53,1]`.
/// Bytes 160..=255 are copied as they are, so valid UTF-8 input stays valid UTF-8 (invalid
/// input is replaced, RabbitMQ would send the raw bytes).
pub(crate) fn erlang_string(bytes: &[u8]) -> String {
    let printable = |b: u8| matches!(b, 32..=126 | 160..=255 | 8..=13 | 27);
    let mut out = Vec::with_capacity(bytes.len() + 2);
    if bytes.is_empty() {
        out.extend_from_slice(b"[]");
    } else if bytes.iter().all(|&b| printable(b)) {
        out.push(b'"');
        for &b in bytes {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                11 => out.extend_from_slice(b"\\v"),
                8 => out.extend_from_slice(b"\\b"),
                12 => out.extend_from_slice(b"\\f"),
                27 => out.extend_from_slice(b"\\e"),
                b => out.push(b),
            }
        }
        out.push(b'"');
    } else {
        let items: Vec<String> = bytes.iter().map(u8::to_string).collect();
        out.extend_from_slice(format!("[{}]", items.join(",")).as_bytes());
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
