//! amqprs: an order pipeline over a durable topic exchange with a dead-letter exchange.
//!
//! 300 persistent orders are published once each with publisher confirms (all acked) to a
//! topic exchange as `order.created.<eu|us|ap>`. Inventory (bound `order.created.*`), e-mail
//! (bound `order.#`) and payment (bound `order.created.*`, `x-dead-letter-exchange` = a
//! fanout DLX feeding a durable `rejected` queue) each consume on their own connection with
//! prefetch 10 and manual acks. Inventory and e-mail ack everything; payment rejects orders
//! with `id % 7 == 3` without requeue and rejects order 0 once with requeue.
//! Checks: inventory and e-mail saw every id exactly once; payment completed exactly the
//! good ids once each, saw order 0 twice (the second time redelivered) and nothing else
//! redelivered; `rejected` holds exactly the failing ids in order, each with an `x-death`
//! entry naming the payment queue, reason `rejected`, count 1, the orders exchange and
//! the original routing key; every queue ends empty and everything is deleted.

#[path = "helpers/util.rs"]
mod util;

use amqprs::channel::{
    BasicAckArguments, BasicCancelArguments, BasicPublishArguments, BasicQosArguments,
    BasicRejectArguments, ConfirmSelectArguments, ExchangeDeclareArguments, QueueBindArguments,
    QueueDeclareArguments,
};
use amqprs::{BasicProperties, FieldTable, FieldValue};
use interop::orders::{self, Death, ORDERS, failing, message_id, region, routing_key};
use interop::rs::connect;
use interop::{bounded, unique};
use util::{
    Confirms, as_int, channel, consume_manual, delete_empty, get_str, key, message_count, recv, s,
};

/// What a service saw: every delivery as (order id, redelivered), and the ids it completed.
#[derive(Default, Debug)]
struct Seen {
    deliveries: Vec<(u64, bool)>,
    completed: Vec<u64>,
}

/// One service on its own connection: prefetch 10, manual acks. Stops after `finish`
/// orders are done (completed or failed), cancels, and reports anything delivered after.
async fn service(name: &'static str, queue: String, finish: usize, payment: bool) -> Seen {
    let conn = connect().await;
    let (ch, _events) = channel(&conn).await;
    ch.basic_qos(BasicQosArguments::new(0, 10, false))
        .await
        .expect("basic.qos");
    let (tag, mut rx) = consume_manual(&ch, &queue, name).await;
    let mut seen = Seen::default();
    let mut done = 0;
    while done < finish {
        let (deliver, props, body) = recv(&mut rx, name).await;
        let body = String::from_utf8(body).expect("utf-8 body");
        let id: u64 = body
            .strip_prefix("order ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name}: unexpected body {body:?}"));
        assert_eq!(
            deliver.routing_key(),
            &routing_key(id),
            "{name}: routing key"
        );
        assert_eq!(props.delivery_mode(), Some(2), "{name}: persistent");
        assert_eq!(props.message_id().cloned(), Some(message_id(id)));
        seen.deliveries.push((id, deliver.redelivered()));
        let dtag = deliver.delivery_tag();
        if payment && id == 0 && !deliver.redelivered() {
            ch.basic_reject(BasicRejectArguments::new(dtag, true))
                .await
                .expect("basic.reject requeue");
            continue;
        }
        if payment && failing(id) {
            ch.basic_reject(BasicRejectArguments::new(dtag, false))
                .await
                .expect("basic.reject");
        } else {
            ch.basic_ack(BasicAckArguments::new(dtag, false))
                .await
                .expect("basic.ack");
            seen.completed.push(id);
        }
        done += 1;
    }
    ch.basic_cancel(BasicCancelArguments::new(&tag))
        .await
        .expect("basic.cancel");
    // Anything already delivered but not yet taken is an extra delivery.
    if let Ok(msg) = rx.try_recv() {
        let body = String::from_utf8_lossy(msg.content.as_deref().unwrap_or(b"")).into_owned();
        panic!("{name}: delivery beyond the expected {finish}: {body:?}");
    }
    ch.close().await.expect("channel close");
    conn.close().await.expect("connection close");
    seen
}

#[tokio::main]
async fn main() {
    let exchange = unique("amqprs.orders");
    let dlx = unique("amqprs.orders-dlx");
    let inventory = unique("amqprs.orders-inventory");
    let email = unique("amqprs.orders-email");
    let payment = unique("amqprs.orders-payment");
    let rejected = unique("amqprs.orders-rejected");
    util::run(
        vec![
            inventory.clone(),
            email.clone(),
            payment.clone(),
            rejected.clone(),
        ],
        vec![exchange.clone(), dlx.clone()],
        scenario(exchange, dlx, inventory, email, payment, rejected),
    )
    .await;
}

async fn scenario(
    exchange: String,
    dlx: String,
    inventory: String,
    email: String,
    payment: String,
    rejected: String,
) {
    let conn = connect().await;
    let (ch, mut events) = channel(&conn).await;
    ch.exchange_declare(
        ExchangeDeclareArguments::new(&exchange, "topic")
            .durable(true)
            .finish(),
    )
    .await
    .expect("exchange.declare orders");
    ch.exchange_declare(
        ExchangeDeclareArguments::new(&dlx, "fanout")
            .durable(true)
            .finish(),
    )
    .await
    .expect("exchange.declare dlx");
    let mut dl_args = FieldTable::new();
    dl_args.insert(key("x-dead-letter-exchange"), s(&dlx));
    for (q, args) in [
        (&inventory, FieldTable::new()),
        (&email, FieldTable::new()),
        (&payment, dl_args),
        (&rejected, FieldTable::new()),
    ] {
        ch.queue_declare(
            QueueDeclareArguments::durable_client_named(q)
                .arguments(args)
                .finish(),
        )
        .await
        .expect("queue.declare");
    }
    for (q, x, k) in [
        (&inventory, &exchange, "order.created.*"),
        (&email, &exchange, "order.#"),
        (&payment, &exchange, "order.created.*"),
        (&rejected, &dlx, ""),
    ] {
        ch.queue_bind(QueueBindArguments::new(q, x, k))
            .await
            .expect("queue.bind");
    }

    let good = orders::good();
    let bad = orders::bad();
    let n = ORDERS as usize;
    let inv_task = tokio::spawn(service("inventory", inventory.clone(), n, false));
    let email_task = tokio::spawn(service("email", email.clone(), n, false));
    let pay_task = tokio::spawn(service("payment", payment.clone(), n, true));

    ch.confirm_select(ConfirmSelectArguments::default())
        .await
        .expect("confirm.select");
    let mut confirms = Confirms::default();
    for id in 0..ORDERS {
        let key = routing_key(id);
        let region = region(id);
        ch.basic_publish(
            BasicProperties::default()
                .with_persistence(true)
                .with_content_type("text/plain")
                .with_message_id(&message_id(id))
                .finish(),
            format!("order {id} {region}").into_bytes(),
            BasicPublishArguments::new(&exchange, &key),
        )
        .await
        .expect("basic.publish");
        confirms.published();
    }
    confirms.wait_all(&mut events).await;
    assert_eq!(confirms.acked, ORDERS, "orders confirmed");

    let inv = bounded("inventory", inv_task)
        .await
        .expect("inventory service");
    let mail = bounded("email", email_task).await.expect("email service");
    let pay = bounded("payment", pay_task).await.expect("payment service");

    orders::check_acking_service("inventory", &inv.deliveries);
    orders::check_acking_service("email", &mail.deliveries);
    orders::check_payment(&pay.deliveries, &pay.completed);

    // The rejected queue: exactly the failing orders, in order, with x-death.
    let (rch, _revents) = channel(&conn).await;
    let (rtag, mut rx) = consume_manual(&rch, &rejected, "rejected").await;
    let mut dead = Vec::new();
    while dead.len() < bad.len() {
        let (deliver, props, body) = recv(&mut rx, "a dead-lettered order").await;
        let body = String::from_utf8(body).expect("utf-8");
        let id: u64 = body
            .split(' ')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("id");
        assert_eq!(deliver.exchange(), &dlx, "delivered from the DLX");
        assert_eq!(deliver.routing_key(), &routing_key(id), "DLX keeps the key");
        assert_eq!(props.message_id().cloned(), Some(message_id(id)));
        let headers = props.headers().expect("dead-lettered message has headers");
        let deaths = match headers.get(&key("x-death")) {
            Some(FieldValue::A(a)) => Vec::<FieldValue>::from(a.clone()),
            other => panic!("order {id}: x-death is {other:?}"),
        };
        assert_eq!(deaths.len(), 1, "order {id}: one x-death entry");
        let death = match &deaths[0] {
            FieldValue::F(t) => t,
            other => panic!("x-death[0] is {other:?}"),
        };
        let routing_keys = match death.get(&key("routing-keys")) {
            Some(FieldValue::A(a)) => Vec::<FieldValue>::from(a.clone())
                .into_iter()
                .map(|v| match v {
                    FieldValue::S(s) => String::from(s),
                    other => panic!("routing key {other:?}"),
                })
                .collect(),
            other => panic!("x-death routing-keys is {other:?}"),
        };
        let death = Death {
            queue: get_str(death, "queue").map(String::from),
            reason: get_str(death, "reason").map(String::from),
            exchange: get_str(death, "exchange").map(String::from),
            count: death.get(&key("count")).and_then(as_int).map(i128::from),
            routing_keys,
        };
        orders::check_death(id, &death, &payment, &exchange);
        rch.basic_ack(BasicAckArguments::new(deliver.delivery_tag(), false))
            .await
            .expect("basic.ack");
        dead.push(id);
    }
    assert_eq!(dead, bad, "rejected orders, in order");
    rch.basic_cancel(BasicCancelArguments::new(&rtag))
        .await
        .expect("basic.cancel");
    assert!(rx.try_recv().is_err(), "nothing else dead-lettered");

    for (name, q) in [
        ("inventory", &inventory),
        ("email", &email),
        ("payment", &payment),
        ("rejected", &rejected),
    ] {
        assert_eq!(message_count(&ch, q).await, 0, "messages left in {name}");
    }
    delete_empty(
        &ch,
        &[&inventory, &email, &payment, &rejected],
        &[&exchange, &dlx],
    )
    .await;
    rch.close().await.expect("channel close");
    ch.close().await.expect("channel close");
    conn.close().await.expect("connection close");
    println!(
        "amqprs order pipeline: {ORDERS} orders, {} paid, {} dead-lettered",
        good.len(),
        dead.len()
    );
}
