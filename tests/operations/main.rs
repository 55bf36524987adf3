//! Operating a broker: configuration, listeners, TLS, the management HTTP API and its
//! definitions, policies, Prometheus metrics, `warrenctl` and `warren-perf`. One test binary
//! for all of them; each file is one family (`cargo test --test operations mgmt_queues::`).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod api_users;
mod config;
mod definitions_load;
mod http_gzip;
mod https;
mod listeners;
mod metrics_scale;
mod mgmt_basics;
mod mgmt_binding_props;
mod mgmt_connections;
mod mgmt_definitions;
mod mgmt_endpoints;
mod mgmt_exchanges;
mod mgmt_fields;
mod mgmt_http_timeouts;
mod mgmt_policies;
mod mgmt_queues;
mod mgmt_samples;
mod mgmt_shapes;
mod mgmt_tags;
mod mgmt_ui;
mod perf_tool;
mod policies;
mod prometheus;
mod prometheus_dead_letter;
mod tls;
mod tls_hostile;
mod tls_sighup;
mod tls_startup;
mod warrenctl;
