//! AMQP behaviour against a broker under test: the handshake, channels, exchanges, queues,
//! publishing, consuming, acks, confirms, transactions, RabbitMQ's extensions, access control
//! and hostile or malformed input. One test binary (one link) for all of them; each file is
//! one family (`cargo test --test amqp queues::` runs one).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod access_limits;
mod access_permissions;
mod access_users;
mod acks;
mod backlog_pushback;
mod bad_input;
mod binding_edges;
mod codec_errors;
mod codec_fuzz_corpus;
mod codegen;
mod confirm_frames;
mod confirms;
mod consume;
mod content_framing;
mod declare_edges;
mod errors;
mod exchanges;
mod ext_args;
mod ext_cc_bcc;
mod ext_consumer_timeout;
mod ext_consumers;
mod ext_dead_letter;
mod ext_direct_reply_to;
mod ext_flow;
mod ext_limits;
mod ext_priority;
mod ext_ttl;
mod fair_dispatch;
mod handover_order;
mod handshake;
mod hostile_input;
mod publish;
mod qos;
mod queues;
mod topic_routing;
mod tx;
