//! The cluster inside one test process: Raft over an in-memory transport with a drop table and
//! paused clocks, real LMDB stores in temporary directories (election, replication, failover,
//! fencing, snapshots, membership), the state machine's apply, and `[cluster]` settings.

mod cluster_apply;
mod cluster_config;
mod cluster_confirm;
mod cluster_raft;
mod cluster_replication;
mod cluster_snapshot;
mod replication_support;
mod storage_suite;
