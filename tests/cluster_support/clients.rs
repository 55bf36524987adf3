//! AMQP client helpers for the black-box cluster tests: lapin connections with a bound,
//! a relay that writes a PROXY header, and one-message publish/get checks.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::{POLL, WITHIN};

/// A one-connection-at-a-time relay on a free port that writes `header` to `target` before
/// splicing, standing in for a cluster peer that hands a client over.
pub async fn relay_with_header(target: SocketAddr, header: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
    let addr = listener.local_addr().expect("relay address");
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let header = header.clone();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(target).await else {
                    return;
                };
                if server.write_all(header.as_bytes()).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    addr
}

/// Connects with `lapin` to `uri`; an error if refused, closed or not done in 10 s.
pub async fn connect(uri: &str) -> Result<lapin::Connection, String> {
    let connecting = lapin::Connection::connect(uri, lapin::ConnectionProperties::default());
    match tokio::time::timeout(Duration::from_secs(10), connecting).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("connect timed out".into()),
    }
}

/// Waits until `conn` is no longer connected.
pub async fn closed(conn: &lapin::Connection) {
    let deadline = Instant::now() + WITHIN;
    while conn.status().connected() {
        assert!(Instant::now() < deadline, "connection still open");
        tokio::time::sleep(POLL).await;
    }
}

/// Declares durable `queue`, publishes `body` to it with a confirm, and returns the
/// channel.
pub async fn declare_and_publish(conn: &lapin::Connection, queue: &str, body: &[u8]) {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm.select");
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        lapin::types::FieldTable::default(),
    )
    .await
    .expect("queue.declare");
    let confirm = ch
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            body,
            lapin::BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    assert!(confirm.is_ack(), "publish to {queue} not confirmed");
}

/// The message count of `queue` (passive declare) and the body of its first message.
pub async fn count_and_get(conn: &lapin::Connection, queue: &str) -> (u32, Option<Vec<u8>>) {
    use lapin::options::{BasicGetOptions, QueueDeclareOptions};
    let ch = conn.create_channel().await.expect("channel");
    let q = ch
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("passive queue.declare");
    let got = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get");
    (q.message_count(), got.map(|m| m.delivery.data.clone()))
}
