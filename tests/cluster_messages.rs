//! Black-box faults with message checks: three real `warren` processes on loopback behind
//! chaos links (tests/cluster_support), a publisher sending persistent messages with unique
//! ids and confirms to a durable classic queue and a quorum queue, and a consumer per queue
//! acking in transactions, all reconnecting to any node after a 320. Each scenario injects
//! one fault while they run, lets them make progress afterwards, drains the queues through
//! the leader and checks the totals: lost = 0, unexpected = 0, every duplicate a message
//! delivered on a consumer connection that a fault cut. Scenarios run one at a time.

mod cluster_support;

use std::time::Duration;

use cluster_support::chaos::Mode;
use cluster_support::traffic::{QueueSpec, SERIAL, Traffic};
use cluster_support::{Cluster, Options, WITHIN};

/// Messages per second the publisher sends (a few seconds per scenario).
const RATE: u32 = 300;
/// Confirms to wait for before and after each fault.
const PROGRESS: u64 = 200;
/// Bound on the clients getting through again after a fault.
const RECOVER_WITHIN: Duration = Duration::from_secs(60);

/// Starts the cluster and the traffic, and waits for some confirms; the leader.
async fn begin(c: &Cluster, prefix: &str) -> (u64, Traffic) {
    let leader = c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    let traffic = Traffic::start(c.uris(), QueueSpec::pair(prefix), 1, true, RATE);
    traffic
        .progress(PROGRESS, RECOVER_WITHIN, "before the fault")
        .await;
    (leader, traffic)
}

/// Waits for progress after the fault, stops the clients, drains and checks.
async fn end(traffic: Traffic, what: &str) {
    traffic
        .progress(PROGRESS, RECOVER_WITHIN, "after the fault")
        .await;
    let report = traffic.finish().await;
    eprintln!("{what}: {report:?}");
    report.assert_ok();
}

fn others(of: u64) -> Vec<u64> {
    [1, 2, 3].into_iter().filter(|&i| i != of).collect()
}

#[tokio::test]
async fn kill_9_of_the_leader_loses_no_confirmed_message() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(3).await;
    let (leader, traffic) = begin(&c, "kill").await;
    c.kill(leader).await;
    let new = c.agreed(&others(leader), &[1, 2, 3]).await;
    assert_ne!(new, leader);
    end(traffic, "kill -9 of the leader").await;
}

/// Every node killed at once right after confirms: each restarts from its own disk (the
/// committed log id is written with the next append, the store without its meta sync, see
/// src/cluster/log_store.rs and apply.rs), and every confirmed message is there.
#[tokio::test]
async fn kill_9_of_every_node_at_once_loses_no_confirmed_message() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(3).await;
    let (_, traffic) = begin(&c, "killall").await;
    for id in 1..=3 {
        c.kill(id).await;
    }
    for id in 1..=3 {
        c.spawn(id);
    }
    c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    end(traffic, "kill -9 of every node").await;
}

#[tokio::test]
async fn sigstop_of_the_leader_loses_no_confirmed_message() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(3).await;
    let (leader, traffic) = begin(&c, "stop").await;
    c.signal(leader, libc::SIGSTOP);
    let new = c.agreed(&others(leader), &[1, 2, 3]).await;
    assert_ne!(new, leader);
    traffic
        .progress(PROGRESS, RECOVER_WITHIN, "while the old leader hangs")
        .await;
    c.signal(leader, libc::SIGCONT);
    c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    end(traffic, "SIGSTOP of the leader").await;
}

#[tokio::test]
async fn a_partitioned_leader_loses_no_confirmed_message() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(3).await;
    let (old, traffic) = begin(&c, "partition").await;
    for other in others(old) {
        c.link(old, other, Mode::Refuse);
        c.link(other, old, Mode::Blackhole);
    }
    let new = c.agreed(&others(old), &[1, 2, 3]).await;
    assert_ne!(new, old);
    c.wait_for(&[old], "the cut-off leader fences itself", |s| {
        s[0].role != "leader" || s[0].fenced
    })
    .await;
    traffic
        .progress(PROGRESS, RECOVER_WITHIN, "while the old leader is cut off")
        .await;
    c.isolate(old, Mode::Pass);
    c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    end(traffic, "partitioned leader").await;
}

/// With both followers killed the leader fences itself: while the majority is gone no
/// publish is confirmed (the clients are closed, and a node without a majority serves no
/// new client); once the followers are back everything confirmed before is there.
#[tokio::test]
async fn nothing_is_confirmed_without_a_majority_and_nothing_confirmed_is_lost() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(3).await;
    let (leader, traffic) = begin(&c, "majority").await;
    for id in others(leader) {
        c.kill(id).await;
    }
    c.wait_for(&[leader], "the lone leader fences itself", |s| {
        s[0].fenced || s[0].role != "leader"
    })
    .await;
    let before = traffic.confirmed();
    // Every client tries every node at least once more while the majority is gone.
    traffic.attempts(9, WITHIN * 2).await;
    assert_eq!(
        traffic.confirmed(),
        before,
        "a publish was confirmed without a majority: {:?}",
        traffic.counters
    );
    for id in others(leader) {
        c.spawn(id);
    }
    c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    end(traffic, "majority loss").await;
}

#[tokio::test]
async fn a_rolling_restart_loses_no_confirmed_message() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(3).await;
    let (_, traffic) = begin(&c, "rolling").await;
    for id in 1..=3 {
        c.signal(id, libc::SIGTERM);
        c.exited(id).await;
        c.spawn(id);
        c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
        traffic
            .progress(PROGRESS / 2, RECOVER_WITHIN, "after a restart")
            .await;
    }
    end(traffic, "rolling restart").await;
}

/// A follower is down while the leader writes more than `snapshot_logs` entries plus the
/// 1,000 it keeps behind a snapshot, so it can only catch up by snapshot; then it becomes
/// the leader and must serve every confirmed message.
#[tokio::test]
async fn a_follower_that_caught_up_by_snapshot_has_the_messages_after_a_failover() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start_with(
        3,
        Options {
            snapshot_logs: Some(100),
        },
    )
    .await;
    let (leader, mut traffic) = begin(&c, "snapshot").await;
    let [f, g] = [others(leader)[0], others(leader)[1]];
    let behind = c
        .status(f)
        .await
        .expect("status")
        .last_log_index
        .unwrap_or(0);
    c.kill(f).await;
    c.wait_for(
        &[leader],
        "the leader purged the log past the stopped follower",
        |s| s[0].snapshot.is_some_and(|i| i > behind + 1100),
    )
    .await;
    c.spawn(f);
    c.wait_for(&[leader, f], "the follower caught up by snapshot", |s| {
        s[1].snapshot.is_some_and(|i| i > behind) && s[1].applied >= s[0].snapshot
    })
    .await;
    traffic
        .progress(PROGRESS, RECOVER_WITHIN, "after the catch-up")
        .await;
    traffic.stop_clients().await;
    c.wait_for(&[1, 2, 3], "every node applied everything", |s| {
        s.iter()
            .all(|x| x.applied == s[0].applied && x.last_log_index == s[0].last_log_index)
    })
    .await;
    // Only `f` can win the next election: `g` cannot reach it to ask for its vote, and is
    // stopped until `f` has campaigned to a term above any `g` held (else each round `g`
    // is a term ahead and both campaign forever).
    c.link(g, f, Mode::Refuse);
    let g_term = c.status(g).await.expect("status").term;
    c.signal(g, libc::SIGSTOP);
    c.kill(leader).await;
    c.wait_for(&[f], "f campaigned past g's term", |s| {
        s[0].term > g_term + 2
    })
    .await;
    c.signal(g, libc::SIGCONT);
    let new = c.agreed(&[f, g], &[1, 2, 3]).await;
    assert_eq!(new, f);
    let report = traffic.check().await;
    eprintln!("snapshot catch-up: {report:?}");
    report.assert_ok();
}
