//! queue.declare corner cases where RabbitMQ's answer is not the obvious one: exclusivity
//! mismatches on a redeclare, and a passive declare of the empty name.

use crate::common;

use common::{TestBroker, assert_amqp_error, guard, unique};
use lapin::Channel;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

async fn declare(
    ch: &Channel,
    name: &str,
    opts: QueueDeclareOptions,
) -> Result<lapin::Queue, lapin::Error> {
    guard(ch.queue_declare(name.into(), opts, FieldTable::default())).await
}

fn locked(queue: &str) -> String {
    format!(
        "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{queue}' in vhost '/'. \
         It could be originally declared on another connection or the exclusive property value \
         does not match that of the original declaration."
    )
}

const EXCLUSIVE: QueueDeclareOptions = QueueDeclareOptions {
    exclusive: true,
    passive: false,
    durable: false,
    auto_delete: false,
    nowait: false,
};

#[tokio::test]
async fn redeclaring_an_exclusive_queue_as_shared_on_its_own_connection_is_405() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.lapin_channel().await;
    let q = unique("excl-then-shared");
    declare(&ch, &q, EXCLUSIVE).await.unwrap();
    let text = assert_amqp_error(
        declare(&ch, &q, QueueDeclareOptions::default()).await,
        405,
        "RESOURCE_LOCKED",
    );
    assert_eq!(text, locked(&q));
}

#[tokio::test]
async fn redeclaring_a_shared_queue_as_exclusive_is_405() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.lapin_channel().await;
    let q = unique("shared-then-excl");
    let auto_delete = QueueDeclareOptions {
        auto_delete: true,
        ..Default::default()
    };
    declare(&ch, &q, auto_delete).await.unwrap();
    let text = assert_amqp_error(
        declare(
            &ch,
            &q,
            QueueDeclareOptions {
                exclusive: true,
                ..auto_delete
            },
        )
        .await,
        405,
        "RESOURCE_LOCKED",
    );
    assert_eq!(text, locked(&q));
}

#[tokio::test]
async fn a_passive_redeclare_ignores_exclusivity() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.lapin_channel().await;
    let q = unique("excl-passive");
    declare(&ch, &q, EXCLUSIVE).await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    assert_eq!(declare(&ch, &q, passive).await.unwrap().name().as_str(), q);
}

#[tokio::test]
async fn a_passive_declare_of_the_empty_name_is_404_even_after_a_declare() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.lapin_channel().await;
    declare(&ch, "", EXCLUSIVE).await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let text = assert_amqp_error(declare(&ch, "", passive).await, 404, "NOT_FOUND");
    assert_eq!(text, "NOT_FOUND - no queue '' in vhost '/'");
}

#[tokio::test]
async fn redeclaring_an_own_exclusive_queue_ignores_durable_but_not_auto_delete() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.lapin_channel().await;
    let q = unique("excl-durable");
    declare(&ch, &q, EXCLUSIVE).await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..EXCLUSIVE
    };
    declare(&ch, &q, durable).await.unwrap();
    let text = assert_amqp_error(
        declare(
            &ch,
            &q,
            QueueDeclareOptions {
                auto_delete: true,
                ..durable
            },
        )
        .await,
        406,
        "PRECONDITION_FAILED",
    );
    assert_eq!(
        text,
        format!(
            "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue '{q}' in vhost '/': \
             received 'true' but current is 'false'"
        )
    );
}
