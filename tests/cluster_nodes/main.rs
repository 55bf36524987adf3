//! Three real `warren` processes on loopback: forming, failover, the cluster port and its
//! refusals, TLS between nodes, and the management API of a cluster.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod cluster_failover;
mod cluster_management;
mod cluster_port;
mod cluster_processes;
mod cluster_tls;
