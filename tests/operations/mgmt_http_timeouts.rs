//! The HTTP listeners disconnect clients that send nothing, trickle a request head, or sit
//! idle on a kept-alive connection (`management.request_timeout_ms`), as RabbitMQ's do,
//! while ordinary requests are answered on the API and the Prometheus endpoint.

use crate::common;

use common::{TestBroker, guard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn short_timeout_broker() -> TestBroker {
    TestBroker::start_with(|s| s.management.request_timeout_ms = 200).await
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection; returns everything it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match guard(stream.read(&mut buf)).await {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_silent_client_is_disconnected() {
    skip_if_external!();
    let b = short_timeout_broker().await;
    let mut s = TcpStream::connect(host_port(&b.mgmt_url())).await.unwrap();
    let sent = read_until_closed(&mut s).await;
    assert!(sent.is_empty(), "{}", String::from_utf8_lossy(&sent));
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    skip_if_external!();
    let b = short_timeout_broker().await;
    for url in [b.mgmt_url(), b.metrics_url()] {
        let mut s = TcpStream::connect(host_port(&url)).await.unwrap();
        s.write_all(b"GET /api/overview HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let sent = read_until_closed(&mut s).await;
        let text = String::from_utf8_lossy(&sent);
        assert!(!text.contains("200 OK"), "{url}: {text}");
    }
}

#[tokio::test]
async fn a_kept_alive_connection_is_answered_then_closed_when_idle() {
    skip_if_external!();
    let b = short_timeout_broker().await;
    let mut s = TcpStream::connect(host_port(&b.mgmt_url())).await.unwrap();
    // guest:guest in Basic form.
    s.write_all(
        b"GET /api/aliveness-test/%2F HTTP/1.1\r\nHost: x\r\n\
          Authorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\n\r\n",
    )
    .await
    .unwrap();
    let sent = read_until_closed(&mut s).await;
    let text = String::from_utf8_lossy(&sent);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("{\"status\":\"ok\"}"), "{text}");
}

#[tokio::test]
async fn ordinary_requests_are_answered_on_both_listeners() {
    skip_if_external!();
    let b = short_timeout_broker().await;
    let client = reqwest::Client::new();
    let api = guard(
        client
            .get(format!("{}/api/overview", b.mgmt_url()))
            .basic_auth("guest", Some("guest"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(api.status().as_u16(), 200);
    let overview: serde_json::Value = guard(api.json()).await.unwrap();
    assert_eq!(overview["management_version"], "3.10.8");
    let metrics = guard(client.get(format!("{}/metrics", b.metrics_url())).send())
        .await
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    let body = guard(metrics.text()).await.unwrap();
    assert!(body.contains("rabbitmq_build_info"), "{body}");
}

#[test]
fn a_timeout_out_of_range_is_refused_by_name() {
    for bad in [0, 99, 3_600_001] {
        let mut settings = warren::config::Settings::default();
        settings.management.request_timeout_ms = bad;
        let err = settings.validate().unwrap_err().to_string();
        assert!(
            err.contains("management.request_timeout_ms") && err.contains(&bad.to_string()),
            "{err}"
        );
    }
}
