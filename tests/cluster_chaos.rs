//! Black-box cluster faults: three real `warren` processes on loopback, every directed
//! cluster link through a chaos proxy (tests/cluster_support). Clients connect to any
//! node's AMQP port and reach the leader; the tests kill -9, SIGSTOP and partition the
//! leader, lose the majority, restart every node in turn, and join, remove and refuse
//! nodes, waiting on each node's `cluster status` (polled with a deadline).
//!
//! These tests check leadership, hand-off, fencing and membership; tests/cluster_messages.rs
//! checks that confirmed messages survive the same faults.

mod cluster_support;

use std::time::Duration;

use cluster_support::chaos::Mode;
use cluster_support::{
    Cluster, agree, closed, connect, count_and_get, declare_and_publish, relay_with_header,
};

/// Clients on every port reach the leader's broker; the leader believes a PROXY header
/// from a peer's address (so `guest` from a non-loopback client is refused); a kill -9 of
/// the leader closes the clients handed to it and the survivors serve a new leader.
#[tokio::test]
async fn clients_on_any_node_reach_the_leader_and_survive_a_kill_9() {
    let mut c = Cluster::start(3).await;
    let leader = c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    let followers: Vec<u64> = [1, 2, 3].into_iter().filter(|&i| i != leader).collect();
    let (f1, f2) = (followers[0], followers[1]);

    let via_f1 = connect(&c.uri(f1)).await.expect("connect via a follower");
    declare_and_publish(&via_f1, "chaos.handoff", b"hello").await;
    let via_f2 = connect(&c.uri(f2))
        .await
        .expect("connect via the other follower");
    assert_eq!(
        count_and_get(&via_f2, "chaos.handoff").await,
        (1, Some(b"hello".to_vec()))
    );
    let direct = connect(&c.uri(leader))
        .await
        .expect("connect to the leader");
    assert_eq!(count_and_get(&direct, "chaos.handoff").await, (0, None));

    // The leader takes the client address from a peer's PROXY header.
    let local = c.amqp_addr(leader);
    let remote = relay_with_header(
        local,
        format!("PROXY TCP4 10.9.8.7 127.0.0.1 4242 {}\r\n", local.port()),
    )
    .await;
    let refused = connect(&format!("amqp://guest:guest@{remote}/%2f")).await;
    assert!(refused.is_err(), "guest from 10.9.8.7 must be refused");
    let loopback = relay_with_header(
        local,
        format!("PROXY TCP4 127.0.0.1 127.0.0.1 4243 {}\r\n", local.port()),
    )
    .await;
    let ok = connect(&format!("amqp://guest:guest@{loopback}/%2f")).await;
    assert!(ok.is_ok(), "guest from loopback: {:?}", ok.err());

    c.kill(leader).await;
    closed(&via_f1).await;
    let new_leader = c.agreed(&followers, &[1, 2, 3]).await;
    assert_ne!(new_leader, leader);
    for &id in &followers {
        let conn = connect(&c.uri(id)).await.expect("connect after failover");
        let queue = format!("chaos.after.{id}");
        declare_and_publish(&conn, &queue, b"after").await;
        assert_eq!(
            count_and_get(&conn, &queue).await,
            (1, Some(b"after".to_vec()))
        );
    }
}

/// A leader cut off from the others keeps its role in its own eyes but reports itself
/// fenced; the others elect a new leader, a follower closes the clients it had handed to
/// the old one and hands new ones to the new leader; healed, the old leader follows.
#[tokio::test]
async fn a_partitioned_leader_is_fenced_and_its_handed_clients_closed() {
    let c = Cluster::start(3).await;
    let old = c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    let others: Vec<u64> = [1, 2, 3].into_iter().filter(|&i| i != old).collect();
    let held = connect(&c.uri(others[0]))
        .await
        .expect("connect via a follower");

    // Its own links refuse, the links to it swallow everything (the others see it hang).
    for &other in &others {
        c.link(old, other, Mode::Refuse);
        c.link(other, old, Mode::Blackhole);
    }
    let new = c.agreed(&others, &[1, 2, 3]).await;
    assert_ne!(new, old);
    c.wait_for(&[old], "the cut-off leader reports itself fenced", |s| {
        s[0].role != "leader" || s[0].fenced
    })
    .await;
    closed(&held).await;
    let conn = connect(&c.uri(others[0])).await.expect("connect after");
    declare_and_publish(&conn, "chaos.partition", b"p").await;
    let on_new = connect(&c.uri(new))
        .await
        .expect("connect to the new leader");
    assert_eq!(count_and_get(&on_new, "chaos.partition").await.0, 1);

    c.isolate(old, Mode::Pass);
    let healed = c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    assert_ne!(
        healed, old,
        "the old leader's term is behind: it cannot win back at once"
    );
}

/// With 5 ms of delay on every link, SIGSTOP the leader: the others take over and the resumed node follows. Then the
/// majority is lost: the lone node serves no client. Then every node is restarted in turn
/// and the cluster serves clients on every port.
#[tokio::test]
async fn sigstop_majority_loss_and_rolling_restart() {
    let mut c = Cluster::start(3).await;
    // Every link adds a little latency throughout.
    for id in 1..=3 {
        for to in 1..=3 {
            c.link(id, to, Mode::Delay(Duration::from_millis(5)));
        }
    }
    let old = c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    let others: Vec<u64> = [1, 2, 3].into_iter().filter(|&i| i != old).collect();
    c.signal(old, libc::SIGSTOP);
    let new = c.agreed(&others, &[1, 2, 3]).await;
    assert_ne!(new, old);
    c.signal(old, libc::SIGCONT);
    let after = c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    assert_ne!(after, old);

    // Lose the majority: only `after` is left.
    let lost: Vec<u64> = [1, 2, 3].into_iter().filter(|&i| i != after).collect();
    for &id in &lost {
        c.kill(id).await;
    }
    c.wait_for(&[after], "the lone node is fenced or no leader", |s| {
        s[0].fenced || s[0].role != "leader"
    })
    .await;
    let refused = connect(&c.uri(after)).await;
    assert!(
        refused.is_err(),
        "a node without a majority serves no client"
    );
    for &id in &lost {
        c.spawn(id);
    }
    c.agreed(&[1, 2, 3], &[1, 2, 3]).await;

    // Rolling restart: SIGTERM each node, wait for it to exit, start it, wait for the
    // cluster to agree again.
    for id in 1..=3 {
        c.signal(id, libc::SIGTERM);
        c.exited(id).await;
        c.spawn(id);
        c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    }
    for id in 1..=3 {
        let conn = connect(&c.uri(id))
            .await
            .expect("connect after the restarts");
        let queue = format!("chaos.rolled.{id}");
        declare_and_publish(&conn, &queue, b"r").await;
        assert_eq!(count_and_get(&conn, &queue).await, (1, Some(b"r".to_vec())));
    }
}

/// A fourth node with `cluster.join = true` becomes a voter and serves clients;
/// `cluster remove` takes it out;
/// `cluster join` for an id that is already a voter is refused; a follower whose data was
/// wiped refuses to start under its old id.
#[tokio::test]
async fn join_remove_and_a_wiped_node_is_refused() {
    let mut c = Cluster::start(3).await;
    c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    c.add_joining(4, &[1, 2, 3]).await;
    c.wait_for(&[1, 2, 3, 4], "node 4 joined as a voter", |s| {
        agree(s, &[1, 2, 3, 4], &[1, 2, 3, 4])
    })
    .await;
    let via_new = connect(&c.uri(4))
        .await
        .expect("connect via the joined node");
    declare_and_publish(&via_new, "chaos.joined", b"j").await;
    assert_eq!(
        count_and_get(&via_new, "chaos.joined").await,
        (1, Some(b"j".to_vec()))
    );
    drop(via_new);

    let (ok, out) = c.cli(1, &["remove", "4"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("node 4 removed"), "{out}");
    c.wait_for(&[1, 2, 3], "node 4 removed", |s| {
        agree(s, &[1, 2, 3], &[1, 2, 3])
    })
    .await;
    c.kill(4).await;
    let (ok, out) = c.cli(1, &["remove", "4"]).await;
    assert!(!ok && out.contains("not a member"), "{out}");

    let (ok, out) = c.cli(2, &["join"]).await;
    assert!(!ok && out.contains("already a voter"), "{out}");

    let leader = c.agreed(&[1, 2, 3], &[1, 2, 3]).await;
    let victim = if leader == 3 { 2 } else { 3 };
    c.kill(victim).await;
    std::fs::remove_dir_all(c.data_dir(victim)).expect("wipe");
    c.spawn(victim);
    let code = c.exited(victim).await;
    assert_ne!(code, Some(0));
    let log = std::fs::read_to_string(c.log(victim)).expect("log");
    assert!(log.contains("its data was wiped"), "{log}");
}
