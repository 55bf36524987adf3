//! lapin: an order pipeline. An order API publishes 300 persistent JSON orders, with
//! publisher confirms, to a durable topic exchange as `order.created.<eu|us|ap>`. Three
//! services, each on its own connection (prefetch 10, manual acks), read their own durable
//! queue: inventory (`order.created.*`) and e-mail (`order.#`) ack everything; payment
//! (`order.created.*`, dead-lettering to a fanout DLX that feeds a durable `rejected` queue)
//! rejects orders with `id % 7 == 3` without requeue and rejects order 0 once with requeue.
//!
//! Checks: every publish acked; inventory and e-mail saw every id exactly once; payment saw
//! order 0 twice (the second time redelivered) and completed exactly the other valid ids
//! once; `rejected` holds exactly the failing ids, in order, each with an `x-death` entry
//! naming the payment queue, reason `rejected`, count 1, the orders exchange and the
//! original routing key; every queue ends empty; everything is deleted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_lite::StreamExt;
use interop::lp::{self, depth, int, text};
use interop::orders::{self, Death, ORDERS, failing, message_id, region, routing_key};
use interop::{bounded, bounded_secs, json_field, unique};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};
use tokio::sync::Notify;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Inventory,
    Payment,
    Email,
}

/// What one service saw: every delivery (id, redelivered) and the ids it completed.
#[derive(Default)]
struct Seen {
    deliveries: Vec<(u64, bool)>,
    completed: Vec<u64>,
    rejected: Vec<u64>,
}

struct Running {
    conn: Connection,
    ch: Channel,
    tag: String,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

async fn start_service(
    service: Service,
    queue: &str,
    name: &str,
    progress: Arc<Notify>,
) -> Running {
    let conn = lp::connect().await;
    let ch = conn.create_channel().await.expect("service channel");
    ch.basic_qos(10, BasicQosOptions::default())
        .await
        .expect("basic.qos");
    let tag = format!("{name}-service");
    let mut consumer = ch
        .basic_consume(
            queue.into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("basic.consume");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = seen.clone();
    // Runs until the consumer is cancelled (the stream then ends).
    let task = tokio::spawn(async move {
        while let Some(delivery) = consumer.next().await {
            let d = delivery.expect("service delivery");
            let body = std::str::from_utf8(&d.data).expect("UTF-8 order");
            let id: u64 = json_field(body, "id")
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("order without id: {body}"));
            state.lock().unwrap().deliveries.push((id, d.redelivered));
            if service == Service::Payment && id == 0 && !d.redelivered {
                d.reject(BasicRejectOptions { requeue: true })
                    .await
                    .expect("basic.reject requeue");
            } else if service == Service::Payment && failing(id) {
                d.reject(BasicRejectOptions { requeue: false })
                    .await
                    .expect("basic.reject");
                state.lock().unwrap().rejected.push(id);
            } else {
                d.ack(BasicAckOptions::default()).await.expect("basic.ack");
                state.lock().unwrap().completed.push(id);
            }
            progress.notify_one();
        }
    });
    Running {
        conn,
        ch,
        tag,
        seen,
        task,
    }
}

impl Running {
    fn finished(&self) -> usize {
        let s = self.seen.lock().unwrap();
        s.completed.len() + s.rejected.len()
    }

    /// Cancels the consumer, waits for its stream to end and returns what it saw.
    async fn stop(self) -> Seen {
        self.ch
            .basic_cancel(self.tag.as_str().into(), BasicCancelOptions::default())
            .await
            .expect("basic.cancel");
        bounded("a service to stop", self.task)
            .await
            .expect("service task");
        self.ch
            .close(200, "bye".into())
            .await
            .expect("channel close");
        self.conn.close(200, "bye".into()).await.expect("close");
        Arc::try_unwrap(self.seen)
            .ok()
            .expect("service state")
            .into_inner()
            .unwrap()
    }
}

#[tokio::main]
async fn main() {
    let exchange = unique("lapin.orders");
    let dlx = unique("lapin.orders-dlx");
    let q: BTreeMap<&str, String> = ["inventory", "payment", "email", "rejected"]
        .into_iter()
        .map(|n| (n, unique(&format!("lapin.orders-{n}"))))
        .collect();

    let conn = lp::connect().await;
    let ch = conn.create_channel().await.expect("channel");
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    lp::declare_exchange(&ch, &exchange, ExchangeKind::Topic, durable).await;
    lp::declare_exchange(&ch, &dlx, ExchangeKind::Fanout, durable).await;
    for (name, queue) in &q {
        let mut args = FieldTable::default();
        if *name == "payment" {
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(dlx.as_str().into()),
            );
        }
        ch.queue_declare(queue.as_str().into(), QueueDeclareOptions::durable(), args)
            .await
            .expect("queue.declare");
    }
    for (name, source, key) in [
        ("inventory", &exchange, "order.created.*"),
        ("payment", &exchange, "order.created.*"),
        ("email", &exchange, "order.#"),
        ("rejected", &dlx, ""),
    ] {
        lp::bind(&ch, &q[name], source, key, FieldTable::default()).await;
    }

    let progress = Arc::new(Notify::new());
    let inventory = start_service(
        Service::Inventory,
        &q["inventory"],
        "inventory",
        progress.clone(),
    )
    .await;
    let payment = start_service(Service::Payment, &q["payment"], "payment", progress.clone()).await;
    let email = start_service(Service::Email, &q["email"], "email", progress.clone()).await;

    // The order API: every order once, persistent, confirmed.
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm.select");
    let mut confirms = Vec::with_capacity(ORDERS as usize);
    for id in 0..ORDERS {
        let key = routing_key(id);
        let body = format!(
            "{{\"id\": {id}, \"region\": \"{}\", \"amount\": {}}}",
            region(id),
            10 + id
        );
        let confirm = ch
            .basic_publish(
                exchange.as_str().into(),
                key.as_str().into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_content_type("application/json".into())
                    .with_message_id(message_id(id).into()),
            )
            .await
            .expect("basic.publish");
        confirms.push(confirm);
    }
    for (id, confirm) in confirms.into_iter().enumerate() {
        lp::acked(confirm, &format!("the confirm of order {id}")).await;
    }

    // Wait (bounded) until every service has finished every order.
    let done = || {
        inventory.finished() >= ORDERS as usize
            && email.finished() >= ORDERS as usize
            && payment.finished() >= ORDERS as usize
    };
    bounded_secs(60, "the services to finish every order", async {
        while !done() {
            progress.notified().await;
        }
    })
    .await;
    let inventory = inventory.stop().await;
    let payment = payment.stop().await;
    let email = email.stop().await;

    orders::check_acking_service("inventory", &inventory.deliveries);
    orders::check_acking_service("email", &email.deliveries);
    orders::check_payment(&payment.deliveries, &payment.completed);
    let valid = orders::good();
    let bad = orders::bad();
    assert_eq!(payment.rejected, bad, "payment rejected the failing orders");
    assert_eq!(
        payment.deliveries.len() as u64,
        ORDERS + 1,
        "payment deliveries"
    );

    // The dead-lettered orders, with their x-death entries.
    let dead_ch = conn.create_channel().await.expect("channel");
    let mut dead = dead_ch
        .basic_consume(
            q["rejected"].as_str().into(),
            "rejected-reader".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("basic.consume rejected");
    let mut rejected = Vec::new();
    while rejected.len() < bad.len() {
        let d = lp::next(&mut dead, "a dead-lettered order").await;
        let body = std::str::from_utf8(&d.data).expect("UTF-8");
        let id: u64 = json_field(body, "id").unwrap().parse().unwrap();
        assert_eq!(
            d.properties.message_id().as_ref().map(|s| s.to_string()),
            Some(message_id(id)),
            "dead-lettered message id"
        );
        let headers = d.properties.headers().as_ref().expect("x-death headers");
        let deaths = match headers.inner().get("x-death") {
            Some(AMQPValue::FieldArray(a)) => a.as_slice().to_vec(),
            other => panic!("x-death of order {id}: {other:?}"),
        };
        let death = match deaths.first() {
            Some(AMQPValue::FieldTable(t)) => t.inner().clone(),
            other => panic!("x-death[0] of order {id}: {other:?}"),
        };
        let field = |k: &str| {
            death
                .get(k)
                .unwrap_or_else(|| panic!("x-death {k}: {death:?}"))
        };
        let routing_keys = match field("routing-keys") {
            AMQPValue::FieldArray(keys) => keys
                .as_slice()
                .iter()
                .map(|k| text(k).unwrap_or_else(|| panic!("x-death routing key {k:?}")))
                .collect(),
            other => panic!("x-death routing-keys: {other:?}"),
        };
        let death = Death {
            queue: text(field("queue")),
            reason: text(field("reason")),
            exchange: text(field("exchange")),
            count: int(field("count")),
            routing_keys,
        };
        orders::check_death(id, &death, &q["payment"], &exchange);
        d.ack(BasicAckOptions::default()).await.expect("basic.ack");
        rejected.push(id);
    }
    assert_eq!(
        rejected, bad,
        "rejected holds exactly the failing orders, in order"
    );
    dead_ch
        .basic_cancel("rejected-reader".into(), BasicCancelOptions::default())
        .await
        .expect("basic.cancel");
    dead_ch
        .close(200, "bye".into())
        .await
        .expect("channel close");

    for (name, queue) in &q {
        assert_eq!(depth(&ch, queue).await, 0, "messages left in {name}");
        let left = ch
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await
            .expect("queue.delete");
        assert_eq!(left, 0, "{name} empty when deleted");
    }
    for e in [&exchange, &dlx] {
        ch.exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
            .await
            .expect("exchange.delete");
    }
    conn.close(200, "bye".into()).await.expect("close");
    println!(
        "lapin order pipeline: {ORDERS} orders, {} paid, {} dead-lettered",
        valid.len(),
        bad.len()
    );
}
