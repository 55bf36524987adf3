//! The state machine over a real store and cluster db (LMDB, temp dirs): an entry's effects
//! and the applied log id commit in one store transaction, so a restart, or entries handed
//! to it again, never apply an entry twice.

use bytes::Bytes;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, EntryPayload};
use warren::cluster::db::RaftDb;
use warren::cluster::entry::{ClusterOp, Message, Request};
use warren::cluster::state_machine::StateMachine;
use warren::cluster::types::{Entry, LogId};
use warren::store::{Store, StoreOptions};

const QUEUE: u64 = 7;

fn publish_entry(index: u64) -> Entry {
    let op = ClusterOp::Publish {
        msg_id: index,
        message: Message {
            exchange: Bytes::new(),
            routing_key: Bytes::from_static(b"q"),
            raw_properties: Bytes::new(),
            body: Bytes::from(format!("body {index}")),
            persistent: true,
            published_at_ms: Some(1),
        },
        entries: vec![(QUEUE, index)],
    };
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Request::new(vec![op])),
    }
}

async fn open(dir: &tempfile::TempDir) -> (Store, StateMachine) {
    let store = Store::open(&dir.path().join("data"), StoreOptions::default()).expect("store");
    let db = Arc::new(RaftDb::open(&dir.path().join("data").join("cluster")).expect("db"));
    let sm = StateMachine::open(db, store.clone()).await.expect("sm");
    (store, sm)
}

fn bodies(store: &Store) -> Vec<Vec<u8>> {
    store
        .read_queue(QUEUE, 0, 100)
        .expect("read")
        .into_iter()
        .map(|e| e.message.body.to_vec())
        .collect()
}

#[tokio::test]
async fn an_entry_handed_again_after_a_restart_is_not_applied_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (store, mut sm) = open(&dir).await;
        let out = sm
            .apply(vec![publish_entry(1), publish_entry(2)])
            .await
            .expect("apply");
        assert_eq!(out.len(), 2);
        assert_eq!(store.queue_stats(QUEUE).expect("stats").count, 2);
        drop(sm);
        store.close();
    }
    // The cluster db holds no applied id (the store's mark is the record): a restart reads
    // the mark, and entries 1 and 2 handed again (as after a crash before the cluster db
    // caught up) are skipped while entry 3 is applied.
    let (store, mut sm) = open(&dir).await;
    let (applied, _) = sm.applied_state().await.expect("applied state");
    assert_eq!(applied.map(|id| id.index), Some(2));
    let out = sm
        .apply(vec![publish_entry(1), publish_entry(2), publish_entry(3)])
        .await
        .expect("apply again");
    assert_eq!(out.len(), 3, "one response per entry");
    let stats = store.queue_stats(QUEUE).expect("stats");
    assert_eq!(stats.count, 3, "each publish counted once");
    assert_eq!(
        stats.bytes,
        u64::try_from("body 1".len() * 3).expect("small")
    );
    assert_eq!(
        bodies(&store),
        vec![b"body 1".to_vec(), b"body 2".to_vec(), b"body 3".to_vec()]
    );
    let (applied, _) = sm.applied_state().await.expect("applied state");
    assert_eq!(applied.map(|id| id.index), Some(3));
}

#[tokio::test]
async fn the_applied_mark_commits_with_the_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, mut sm) = open(&dir).await;
    assert_eq!(store.cluster_applied().expect("mark"), None);
    sm.apply(vec![publish_entry(1)]).await.expect("apply");
    let mark = store.cluster_applied().expect("mark").expect("a mark");
    assert_eq!(mark.index, 1);
    assert_eq!(store.queue_stats(QUEUE).expect("stats").count, 1);
}
