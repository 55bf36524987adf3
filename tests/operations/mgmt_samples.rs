//! Rate samples: `lengths_age`/`msg_rates_age`/`data_rates_age` with their `_incr` add
//! `samples`, `avg` and `avg_rate` to the `*_details` objects, as RabbitMQ 3.10.8 does. The
//! test drives the sampler itself at chosen times (ahead of the wall clock), so the sample
//! times and values are exact.

use crate::common;

use common::mgmt::Api;
use common::{TestBroker, declare_queue, publish_all, unique};
use serde_json::Value;

const STEP: u64 = 5000;

/// (sample, timestamp) pairs of a `*_details` object, newest first.
fn samples(details: &Value) -> Vec<(u64, u64)> {
    details["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no samples in {details}"))
        .iter()
        .map(|s| {
            (
                s["sample"].as_u64().unwrap(),
                s["timestamp"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn at(t0: u64, values: &[u64]) -> Vec<(u64, u64)> {
    // Newest first: the first value is at t0 + 2 steps, then one step back each.
    values
        .iter()
        .enumerate()
        .map(|(k, &v)| (v, t0 + 2 * STEP - k as u64 * STEP))
        .collect()
}

#[tokio::test]
async fn samples_follow_known_traffic_newest_first_one_increment_apart() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let broker = b.warren().unwrap().clone();
    broker.sampler.set_manual(true);
    // A tick an hour ahead of the clock, on a multiple of the increment.
    let t0 = (warren::broker::message::unix_millis_now() + 3_600_000).div_ceil(STEP) * STEP;
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("samples");
    declare_queue(&ch, &q).await;
    broker.sampler.sample_at(&broker, t0);
    publish_all(&ch, &q, &["a", "b", "c"]).await;
    broker.sampler.sample_at(&broker, t0 + STEP);
    publish_all(&ch, &q, &["d", "e"]).await;
    broker.sampler.sample_at(&broker, t0 + 2 * STEP);

    let plain = api.get(&format!("/api/queues/%2F/{q}")).await;
    assert!(plain["messages_details"].get("samples").is_none());
    assert_eq!(
        plain["message_stats"]["publish_details"]
            .as_object()
            .unwrap()
            .len(),
        1
    );

    let range = "lengths_age=20&lengths_incr=5&msg_rates_age=20&msg_rates_incr=5";
    let body = api.get(&format!("/api/queues/%2F/{q}?{range}")).await;
    let expected = at(t0, &[5, 3, 0, 0, 0]);
    assert_eq!(samples(&body["messages_details"]), expected);
    assert_eq!(samples(&body["messages_ready_details"]), expected);
    assert_eq!(
        samples(&body["messages_unacknowledged_details"]),
        at(t0, &[0; 5])
    );
    let publish = &body["message_stats"]["publish_details"];
    assert_eq!(samples(publish), expected);
    assert_eq!(publish["rate"], 2.0 / 5.0);
    assert_eq!(publish["avg_rate"], 5.0 / 20.0);
    assert_eq!(publish["avg"], 8.0 / 5.0);
    assert_eq!(
        samples(&body["message_stats"]["deliver_get_details"]),
        at(t0, &[0; 5])
    );

    // The listing gives the same, and so does the overview for the broker's totals.
    let list = api.get(&format!("/api/queues?name={q}&{range}")).await;
    assert_eq!(samples(&list[0]["messages_details"]), expected);
    let o = api.get(&format!("/api/overview?{range}")).await;
    assert_eq!(samples(&o["message_stats"]["publish_details"]), expected);
    assert_eq!(
        samples(&o["queue_totals"]["messages_ready_details"]),
        expected
    );

    // Channels count the publishes; connections the bytes, which only grow.
    let channels = api
        .get("/api/channels?msg_rates_age=10&msg_rates_incr=5")
        .await;
    let publish = &channels[0]["message_stats"]["publish_details"];
    assert_eq!(samples(publish), at(t0, &[5, 3, 0]));
    let conns = api
        .get("/api/connections?data_rates_age=10&data_rates_incr=5")
        .await;
    let recv = samples(&conns[0]["recv_oct_details"]);
    assert_eq!(recv.len(), 3);
    assert!(recv[0].0 > recv[1].0 && recv[1].0 > recv[2].0, "{recv:?}");

    // The vhost sums its queues, its open channels and its connections' bytes.
    let all = "lengths_age=10&lengths_incr=5&msg_rates_age=10&msg_rates_incr=5\
               &data_rates_age=10&data_rates_incr=5";
    let v = api.get(&format!("/api/vhosts/%2F?{all}")).await;
    assert_eq!(samples(&v["messages_ready_details"]), at(t0, &[5, 3, 0]));
    assert_eq!(
        samples(&v["message_stats"]["publish_details"]),
        at(t0, &[5, 3, 0])
    );
    assert_eq!(samples(&v["recv_oct_details"]), recv);
}

#[tokio::test]
async fn bad_ranges_are_400_and_non_numbers_are_ignored() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    for (age, incr) in [("60", "0"), ("86400", "5"), ("-5", "5")] {
        let (status, body) = api
            .call(
                "GET",
                &format!("/api/overview?msg_rates_age={age}&msg_rates_incr={incr}"),
                None,
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "bad_request");
        assert_eq!(
            body["reason"],
            format!("Invalid range parameters: age {age}, incr {incr}")
        );
    }
    let (status, _) = api
        .call("GET", "/api/queues?lengths_age=abc&lengths_incr=5", None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_hour_of_one_minute_samples_spans_sixty_one_points() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("hour");
    declare_queue(&ch, &q).await;
    let body = api
        .get(&format!(
            "/api/queues/%2F/{q}?lengths_age=3600&lengths_incr=60"
        ))
        .await;
    let s = samples(&body["messages_details"]);
    assert_eq!(s.len(), 61);
    assert_eq!(s[0].1 % 60_000, 0);
    assert!(s.windows(2).all(|w| w[0].1 - w[1].1 == 60_000));
}
