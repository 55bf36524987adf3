//! lapin: heartbeats over an idle period. The connection asks for a heartbeat of
//! `INTEROP_HEARTBEAT` seconds (default 1, as `?heartbeat=` in the URI, lapin's way) and
//! the program then sends nothing for `INTEROP_IDLE_SECONDS` (default 4; the one
//! intentional wait), while lapin's own heartbeat task keeps beating.
//!
//! Checks: the negotiated heartbeat equals the request; after the idle period the
//! connection is still connected and reported no error (lapin closes a connection from
//! which it has read nothing for two heartbeat intervals, so this also shows the broker's
//! heartbeats arrived); a publish and basic.get round trip then works. (lapin cannot be
//! made to stop its heartbeats, so the broker dropping a silent client is not checked.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::StreamExt;
use interop::{bounded, lp, uri};
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Event};

#[tokio::main]
async fn main() {
    let heartbeat = interop::env_or("INTEROP_HEARTBEAT", 1.0) as u16;
    let idle = Duration::from_secs_f64(interop::env_or("INTEROP_IDLE_SECONDS", 4.0));
    let base = uri();
    let sep = if base.contains('?') { '&' } else { '?' };
    let conn = lp::connect_to(&format!("{base}{sep}heartbeat={heartbeat}")).await;
    assert_eq!(
        conn.configuration().heartbeat(),
        heartbeat,
        "negotiated heartbeat"
    );

    // Everything lapin reports about the connection while idle.
    let errors = Arc::new(Mutex::new(Vec::new()));
    let mut events = conn.events_listener();
    let seen = errors.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if let Event::Error(e) = event {
                seen.lock().unwrap().push(e.to_string());
            }
        }
    });

    let ch = conn.create_channel().await.expect("channel");
    let queue = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions::exclusive(),
            FieldTable::default(),
        )
        .await
        .expect("queue.declare")
        .name()
        .to_string();

    tokio::time::sleep(idle).await;

    assert!(
        errors.lock().unwrap().is_empty(),
        "connection errors while idle: {:?}",
        errors.lock().unwrap()
    );
    assert!(
        conn.status().connected(),
        "connection still open after {idle:?} idle at heartbeat {heartbeat}s: {:?}",
        conn.status()
    );
    assert!(ch.status().connected(), "channel still open");
    let confirm = ch
        .basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            b"still here",
            BasicProperties::default(),
        )
        .await
        .expect("publish after idling");
    bounded("the publish", confirm).await.expect("publish");
    let got = bounded(
        "basic.get",
        ch.basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true }),
    )
    .await
    .expect("basic.get")
    .expect("the message published after idling");
    assert_eq!(got.delivery.data, b"still here");
    ch.queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .expect("queue.delete");
    conn.close(200, "bye".into()).await.expect("close");
    println!("lapin heartbeats: {heartbeat}s heartbeat, idle {idle:?}, connection kept");
}
