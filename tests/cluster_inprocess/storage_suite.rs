//! openraft's own storage test suite (`openraft::testing::Suite`) over Warren's log store
//! and state machine on real LMDB environments in temp dirs: the log's reads after appends,
//! truncations and purges, vote and log state, membership and initial state read back from
//! the log and the state machine, and applying blank and membership entries. One test per suite case.
//!
//! Left out: the suite's `transfer_snapshot`, which hands the follower the leader's own
//! snapshot file in place of the one the follower opened to receive it; Warren refuses to
//! install any file but the one it handed out (tested in `cluster_snapshot.rs`).

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use warren::cluster::db::RaftDb;
use warren::cluster::log_store::LogStore;
use warren::cluster::state_machine::StateMachine;
use warren::cluster::types::{StorageError, TypeConfig};
use warren::store::{Store, StoreOptions};

/// The suite over Warren's storage.
type WarrenSuite = Suite<TypeConfig, LogStore, StateMachine, FreshNode, tempfile::TempDir>;

/// Builds a fresh log store and state machine in their own temp dir (kept while the case
/// runs).
struct FreshNode;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for FreshNode {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let store = Store::open(&data, StoreOptions::default()).expect("store");
        let db = Arc::new(RaftDb::open(&data.join("cluster")).expect("raft db"));
        let sm = StateMachine::open(Arc::clone(&db), store).await?;
        Ok((dir, LogStore::new(db), sm))
    }
}

macro_rules! suite_cases {
    ($($case:ident,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let (_dir, log, sm) = FreshNode.build().await.expect("a fresh node");
            WarrenSuite::$case(log, sm).await.expect(stringify!($case));
        }
    )*};
}

suite_cases! {
    last_membership_in_log_initial,
    last_membership_in_log,
    last_membership_in_log_multi_step,
    get_membership_initial,
    get_membership_from_log_and_empty_sm,
    get_membership_from_empty_log_and_sm,
    get_membership_from_log_le_sm_last_applied,
    get_membership_from_log_gt_sm_last_applied_1,
    get_membership_from_log_gt_sm_last_applied_2,
    get_initial_state_without_init,
    get_initial_state_membership_from_log_and_sm,
    get_initial_state_with_state,
    get_initial_state_last_log_gt_sm,
    get_initial_state_last_log_lt_sm,
    get_initial_state_log_ids,
    get_initial_state_re_apply_committed,
    save_vote,
    get_log_entries,
    limited_get_log_entries,
    try_get_log_entry,
    initial_logs,
    get_log_state,
    get_log_id,
    last_id_in_log,
    last_applied_state,
    purge_logs_upto_0,
    purge_logs_upto_5,
    purge_logs_upto_20,
    delete_logs_since_11,
    delete_logs_since_0,
    append_to_log,
    snapshot_meta,
    apply_single,
    apply_multiple,
}
