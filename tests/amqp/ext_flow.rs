//! The memory alarm (Warren-only: the watermark is changed at run time through the
//! broker handle): publishing connections are blocked with connection.blocked and their
//! publishes held, consumers keep being served, and connection.unblocked follows.

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::unique;

fn set_watermark(broker: &TestBroker, bytes: u64) {
    broker
        .server()
        .expect("an in-process Warren")
        .broker()
        .expect("single-node broker")
        .alarms
        .set_memory_high_watermark(bytes);
}

#[tokio::test]
async fn the_memory_alarm_blocks_a_publisher_and_keeps_serving_consumers() {
    skip_if_external!();
    let broker = TestBroker::start_with(|_| {}).await;
    let mut consumer = open1(&broker).await;
    let q = unique("flow");
    let backlog = unique("flow-backlog");
    declare(&mut consumer, 1, &q, &[]).await;
    declare(&mut consumer, 1, &backlog, &[]).await;
    consume_args(&mut consumer, 1, &q, true, &[]).await;

    let mut publisher = open1_blockable(&broker).await;
    publish_body(&mut publisher, 1, "", &backlog, "queued").await;
    publish_body(&mut publisher, 1, "", &q, "before").await;
    assert_eq!(next_msg(&mut consumer).await.text(), "before");

    set_watermark(&broker, 1);
    let (mut r, ch) = publisher.expect_method(10, 60).await;
    assert_eq!((ch, r.shortstr()), (0, "low on memory".to_string()));

    // Held: the blocked connection is not read from.
    publish_body(&mut publisher, 1, "", &q, "during").await;

    // A connection that never published is not blocked: it consumes the backlog.
    consume_args(&mut consumer, 1, &backlog, true, &[]).await;
    let m = next_msg(&mut consumer).await;
    assert_eq!(
        (m.text().as_str(), m.routing_key.as_str()),
        ("queued", backlog.as_str())
    );

    set_watermark(&broker, u64::MAX);
    let (_, ch) = publisher.expect_method(10, 61).await;
    assert_eq!(ch, 0);
    let m = next_msg(&mut consumer).await;
    assert_eq!(
        (m.text().as_str(), m.routing_key.as_str()),
        ("during", q.as_str())
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn a_connection_that_never_published_gets_no_connection_blocked() {
    skip_if_external!();
    let broker = TestBroker::start_with(|_| {}).await;
    let mut idle = open1_blockable(&broker).await;
    set_watermark(&broker, 1);
    // The next frame the idle connection sees is the reply to its own request.
    idle.sync(1).await;
    set_watermark(&broker, u64::MAX);
    idle.sync(1).await;
    broker.shutdown().await;
}

#[tokio::test]
async fn the_disk_alarm_blocks_a_publisher_with_low_on_disk_until_space_returns() {
    skip_if_external!();
    let broker = TestBroker::start_with(|_| {}).await;
    let alarms = || {
        std::sync::Arc::clone(
            &broker
                .server()
                .expect("an in-process Warren")
                .broker()
                .expect("single-node broker")
                .alarms,
        )
    };
    let mut consumer = open1(&broker).await;
    let q = unique("disk");
    declare(&mut consumer, 1, &q, &[]).await;
    consume_args(&mut consumer, 1, &q, true, &[]).await;
    let mut publisher = open1_blockable(&broker).await;
    publish_body(&mut publisher, 1, "", &q, "before").await;
    assert_eq!(next_msg(&mut consumer).await.text(), "before");

    // No disk has this much free space.
    alarms().set_disk_free_limit(u64::MAX);
    let (mut r, ch) = publisher.expect_method(10, 60).await;
    assert_eq!((ch, r.shortstr()), (0, "low on disk".to_string()));
    publish_body(&mut publisher, 1, "", &q, "during").await;

    alarms().set_disk_free_limit(0);
    let (_, ch) = publisher.expect_method(10, 61).await;
    assert_eq!(ch, 0);
    assert_eq!(next_msg(&mut consumer).await.text(), "during");
    broker.shutdown().await;
}
