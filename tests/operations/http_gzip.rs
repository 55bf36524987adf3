//! `Accept-Encoding: gzip` on the Prometheus endpoint and the management API, as RabbitMQ's
//! plugins answer it: a gzip body that decompresses to the same text a plain request gets,
//! and an uncompressed body for a client that does not ask.

use crate::common;

use common::{TestBroker, guard};
use std::io::Read;

/// The decompressed text of a gzip body.
fn gunzip(body: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(body)
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// Status, `content-encoding` (if any) and body of a GET.
async fn get(url: &str, gzip: bool, auth: bool) -> (u16, Option<String>, Vec<u8>) {
    let mut request = reqwest::Client::new().get(url);
    if gzip {
        request = request.header("accept-encoding", "gzip");
    }
    if auth {
        request = request.basic_auth("guest", Some("guest"));
    }
    let response = guard(request.send()).await.unwrap();
    let status = response.status().as_u16();
    let encoding = response
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string());
    let body = guard(response.bytes()).await.unwrap().to_vec();
    (status, encoding, body)
}

async fn declare(b: &TestBroker, queue: &str) {
    let response = guard(
        reqwest::Client::new()
            .put(format!("{}/api/queues/%2F/{queue}", b.mgmt_url()))
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({"durable": false}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test]
async fn a_gzip_scrape_decompresses_to_the_plain_scrape() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let broker = b.handle().unwrap().broker().unwrap();
    // No sampler tick between the two scrapes: both read the same rendered body.
    broker.sampler.set_manual(true);
    declare(&b, "gzip-scraped").await;
    let url = format!("{}/metrics/per-object", b.metrics_url());
    let (status, encoding, plain) = get(&url, false, false).await;
    assert_eq!(status, 200);
    assert_eq!(encoding, None);
    let plain = String::from_utf8(plain).unwrap();
    assert!(
        plain.contains(r#"rabbitmq_queue_messages_ready{vhost="/",queue="gzip-scraped"} 0"#),
        "{plain}"
    );
    let (status, encoding, gzipped) = get(&url, true, false).await;
    assert_eq!(status, 200);
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert!(gzipped.len() < plain.len(), "the gzip body is smaller");
    assert_eq!(gunzip(&gzipped), plain);
}

#[tokio::test]
async fn the_management_api_answers_gzip_when_asked() {
    skip_if_external!();
    let b = TestBroker::start().await;
    declare(&b, "gzip-listed").await;
    let url = format!("{}/api/queues/%2F", b.mgmt_url());
    let (status, encoding, body) = get(&url, true, true).await;
    assert_eq!(status, 200);
    assert_eq!(encoding.as_deref(), Some("gzip"));
    let queues: serde_json::Value = serde_json::from_str(&gunzip(&body)).unwrap();
    let names: Vec<&str> = queues
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|q| q["name"].as_str())
        .collect();
    assert_eq!(names, ["gzip-listed"]);
    let (status, encoding, body) = get(&url, false, true).await;
    assert_eq!((status, encoding), (200, None));
    let queues: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(queues[0]["name"], "gzip-listed");
}
