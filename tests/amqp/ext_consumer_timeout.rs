//! The consumer (delivery acknowledgement) timeout, Warren-only because it needs a short
//! `limits.consumer_timeout_ms`.

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::raw::Args;
use common::unique;

#[tokio::test]
async fn an_unacked_delivery_times_out_closing_the_channel_with_406_and_is_redelivered() {
    skip_if_external!();
    let broker = TestBroker::start_with(|s| s.limits.consumer_timeout_ms = 200).await;
    let mut ops = open1(&broker).await;
    let q = unique("ctimeout");
    declare_with(&mut ops, 1, &q, false, &[]).await;
    let mut slow = open1(&broker).await;
    consume_args(&mut slow, 1, &q, false, &[]).await;
    publish_body(&mut ops, 1, "", &q, "m").await;
    let first = next_msg(&mut slow).await;
    assert_eq!((first.text().as_str(), first.redelivered), ("m", false));
    let mut next = open1(&broker).await;
    let tag = consume_args(&mut next, 1, &q, false, &[]).await;

    let close = slow.expect_channel_close(1).await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            406,
            "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 200 ms. This timeout value can be configured, see consumers doc guide to learn more",
            0,
            0
        )
    );
    let again = next_msg(&mut next).await;
    assert_eq!(
        (
            again.text().as_str(),
            again.redelivered,
            again.consumer_tag.as_str()
        ),
        ("m", true, tag.as_str())
    );
    // Only the channel was closed: the connection still works.
    slow.open_channel(2).await;
    slow.sync(2).await;
    next.ack(1, again.delivery_tag, false).await;
    next.sync(1).await;
    broker.shutdown().await;
}

#[tokio::test]
async fn acked_deliveries_never_time_out() {
    skip_if_external!();
    let broker = TestBroker::start_with(|s| s.limits.consumer_timeout_ms = 50).await;
    let mut c = open1(&broker).await;
    let q = unique("ctimeout-acked");
    declare(&mut c, 1, &q, &[]).await;
    consume_args(&mut c, 1, &q, false, &[]).await;
    // Timer: a second queue whose message expires after several timeout periods.
    let timer = unique("timer");
    declare(
        &mut c,
        1,
        &timer,
        &[
            ("x-message-ttl", common::raw::Value::I32(300)),
            ("x-dead-letter-exchange", vstr("")),
            ("x-dead-letter-routing-key", vstr(&q)),
        ],
    )
    .await;
    publish_body(&mut c, 1, "", &q, "m").await;
    let m = next_msg(&mut c).await;
    c.ack(1, m.delivery_tag, false).await;
    publish_body(&mut c, 1, "", &timer, "tick").await;
    // The tick arrives on the still-open channel 1, long after the timeout would have fired.
    let tick = next_msg(&mut c).await;
    assert_eq!((tick.text().as_str(), tick.channel), ("tick", 1));
    c.ack(1, tick.delivery_tag, false).await;
    let cancel_all = Args::new().u32(0).u16(0).bits(&[false]).build();
    c.send_method(1, 60, 10, &cancel_all).await;
    c.expect_method(60, 11).await;
    broker.shutdown().await;
}
