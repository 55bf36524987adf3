//! The LMDB store and what survives a restart or crash: durability, recovery order, full
//! disks and stores, compaction, the on-disk format and single-node quorum queues. One test
//! binary for all of them; each file is one family (`cargo test --test storage durability::`).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod crash;
mod disk_full;
mod durability;
mod quorum_count_restart;
mod quorum_delivery;
mod quorum_queues;
mod recover_order;
mod settle_durability;
mod storage_full;
mod store_basic;
mod store_compact;
mod store_crash;
mod store_delivery_count;
mod store_format;
mod store_reuse;
mod tx_store_failure;
mod write_order;
