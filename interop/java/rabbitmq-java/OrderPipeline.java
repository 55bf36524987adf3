import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.LongString;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Order pipeline (RabbitMQ's Java client): an order API publishes 300 persistent orders
 * with publisher confirms to a durable topic exchange as "order.created.<region>".
 * Inventory (bound "order.created.*"), payment (bound "order.created.*", dead-lettering to
 * a fanout DLX feeding a durable "rejected" queue) and e-mail (bound "order.#") each run on
 * their own connection with prefetch 10 and manual acks. Payment rejects orders with
 * id % 7 == 3 without requeue, and rejects order 0 once with requeue.
 *
 * Checks: every confirm acked; inventory and e-mail saw every order exactly once; payment
 * got 301 deliveries (order 0 twice, the second flagged redelivered, nothing else
 * redelivered) and completed exactly the non-failing orders once; "rejected" holds exactly
 * the failing orders in order, each with x-death[0] naming the payment queue, reason
 * "rejected", count 1, the orders exchange and the original routing key; queues end empty.
 */
public class OrderPipeline {
    static final int ORDERS = 300;
    static final String[] REGIONS = {"eu", "us", "ap"};

    public static void main(String[] args) {
        Interop.run("rabbitmq-java order-pipeline", OrderPipeline::scenario);
    }

    static boolean failing(int id) {
        return id % 7 == 3;
    }

    static String region(int id) {
        return REGIONS[id % REGIONS.length];
    }

    /** The order id in a body `{"id": N, "region": "..."}`. */
    static int orderId(byte[] body) {
        String s = Interop.text(body);
        int start = s.indexOf(':') + 1;
        return Integer.parseInt(s.substring(start, s.indexOf(',', start)).trim());
    }

    /** What one service saw: order ids per delivery, and the first error in its callback. */
    static final class Service {
        final List<Integer> ids = Collections.synchronizedList(new ArrayList<>());
        final List<Integer> redelivered = Collections.synchronizedList(new ArrayList<>());
        final List<Integer> completed = Collections.synchronizedList(new ArrayList<>());
        final AtomicReference<Throwable> error = new AtomicReference<>();
        final CountDownLatch latch;
        Channel channel;
        String consumerTag;

        Service(int expectedDeliveries) {
            latch = new CountDownLatch(expectedDeliveries);
        }
    }

    static void scenario() throws Exception {
        String orders = Interop.unique("java.orders");
        String dlx = Interop.unique("java.orders-dlx");
        String inventoryQ = Interop.unique("java.orders-inventory");
        String paymentQ = Interop.unique("java.orders-payment");
        String emailQ = Interop.unique("java.orders-email");
        String rejectedQ = Interop.unique("java.orders-rejected");
        try (Interop.Cleanup cleanup = new Interop.Cleanup();
                Connection api = Interop.factory().newConnection("interop-java-order-api");
                Connection inventoryConn = Interop.factory().newConnection("interop-java-inventory");
                Connection paymentConn = Interop.factory().newConnection("interop-java-payment");
                Connection emailConn = Interop.factory().newConnection("interop-java-email")) {
            Channel ch = api.createChannel();
            ch.exchangeDeclare(cleanup.exchange(orders), BuiltinExchangeType.TOPIC, true);
            ch.exchangeDeclare(cleanup.exchange(dlx), BuiltinExchangeType.FANOUT, true);
            ch.queueDeclare(cleanup.queue(inventoryQ), true, false, false, null);
            ch.queueDeclare(cleanup.queue(paymentQ), true, false, false, Map.of("x-dead-letter-exchange", dlx));
            ch.queueDeclare(cleanup.queue(emailQ), true, false, false, null);
            ch.queueDeclare(cleanup.queue(rejectedQ), true, false, false, null);
            ch.queueBind(inventoryQ, orders, "order.created.*");
            ch.queueBind(paymentQ, orders, "order.created.*");
            ch.queueBind(emailQ, orders, "order.#");
            ch.queueBind(rejectedQ, dlx, "");

            List<Integer> good = new ArrayList<>();
            List<Integer> bad = new ArrayList<>();
            for (int i = 0; i < ORDERS; i++) {
                (failing(i) ? bad : good).add(i);
            }

            // Inventory and e-mail ack every order.
            Service inventory = new Service(ORDERS);
            Service email = new Service(ORDERS);
            ackingService(inventoryConn, inventoryQ, inventory);
            ackingService(emailConn, emailQ, email);

            // Payment: fails id % 7 == 3 (dead-lettered), requeues order 0 once.
            Service payment = new Service(ORDERS + 1);
            Channel pay = paymentConn.createChannel();
            payment.channel = pay;
            pay.basicQos(10);
            payment.consumerTag = pay.basicConsume(paymentQ, false, (tag, d) -> {
                try {
                    int id = orderId(d.getBody());
                    long dtag = d.getEnvelope().getDeliveryTag();
                    payment.ids.add(id);
                    if (d.getEnvelope().isRedeliver()) {
                        payment.redelivered.add(id);
                    }
                    if (id == 0 && !d.getEnvelope().isRedeliver()) {
                        pay.basicReject(dtag, true);
                    } else if (failing(id)) {
                        pay.basicReject(dtag, false);
                    } else {
                        payment.completed.add(id);
                        pay.basicAck(dtag, false);
                    }
                } catch (Throwable t) {
                    payment.error.compareAndSet(null, t);
                }
                payment.latch.countDown();
            }, tag -> payment.error.compareAndSet(null, new AssertionError("payment consumer cancelled")));

            // The order API: 300 persistent orders, confirmed.
            ch.confirmSelect();
            ConcurrentSkipListSet<Long> acked = new ConcurrentSkipListSet<>();
            AtomicReference<String> nacked = new AtomicReference<>();
            ch.addConfirmListener((tag, multiple) -> {
                if (multiple) {
                    for (long t = 1; t <= tag; t++) acked.add(t);
                } else {
                    acked.add(tag);
                }
            }, (tag, multiple) -> nacked.compareAndSet(null, "nack for " + tag));
            for (int i = 0; i < ORDERS; i++) {
                AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                        .contentType("application/json")
                        .deliveryMode(2)
                        .messageId("order-" + i)
                        .build();
                String body = "{\"id\": " + i + ", \"region\": \"" + region(i) + "\"}";
                ch.basicPublish(orders, "order.created." + region(i), props, Interop.utf8(body));
            }
            ch.waitForConfirmsOrDie(30_000);
            Interop.checkEq(nacked.get(), null, "publisher nacks");
            Interop.checkEq(acked.size(), ORDERS, "orders confirmed");
            Interop.checkEq(acked.last(), (long) ORDERS, "last confirmed delivery tag");

            for (Service s : List.of(inventory, email, payment)) {
                Interop.check(s.latch.await(30, TimeUnit.SECONDS),
                        "timed out: inventory " + inventory.ids.size() + ", e-mail " + email.ids.size()
                                + ", payment " + payment.ids.size() + " deliveries");
            }
            for (Service s : List.of(inventory, email, payment)) {
                if (s.error.get() != null) {
                    throw new AssertionError("service callback failed", s.error.get());
                }
            }

            List<Integer> all = new ArrayList<>();
            for (int i = 0; i < ORDERS; i++) all.add(i);
            Interop.checkEq(sorted(inventory.ids), all, "orders seen by inventory (each once)");
            Interop.checkEq(sorted(email.ids), all, "orders seen by e-mail (each once)");
            Interop.checkEq(inventory.redelivered, List.of(), "redeliveries to inventory");
            Interop.checkEq(email.redelivered, List.of(), "redeliveries to e-mail");
            List<Integer> paymentDeliveries = new ArrayList<>(all);
            paymentDeliveries.add(0);
            Interop.checkEq(sorted(payment.ids), sorted(paymentDeliveries), "payment deliveries (order 0 twice)");
            Interop.checkEq(payment.redelivered, List.of(0), "orders redelivered to payment");
            Interop.checkEq(sorted(payment.completed), good, "orders completed by payment (each once)");

            // The dead-lettered orders, with their x-death headers.
            Channel rc = api.createChannel();
            LinkedBlockingQueue<Delivery> rejected = new LinkedBlockingQueue<>();
            String rejectedTag = rc.basicConsume(rejectedQ, false, (tag, d) -> rejected.add(d), tag -> {});
            List<Integer> rejectedIds = new ArrayList<>();
            while (rejectedIds.size() < bad.size()) {
                Delivery d = rejected.poll(15, TimeUnit.SECONDS);
                Interop.check(d != null, "timed out waiting for dead-lettered orders, got " + rejectedIds);
                int id = orderId(d.getBody());
                rejectedIds.add(id);
                AMQP.BasicProperties p = d.getProperties();
                Interop.checkEq(p.getMessageId(), "order-" + id, "dead-lettered message id");
                Interop.checkEq(p.getDeliveryMode(), 2, "dead-lettered delivery mode");
                Interop.checkEq(d.getEnvelope().getExchange(), dlx, "dead-lettered via the DLX");
                Interop.checkEq(d.getEnvelope().getRoutingKey(), "order.created." + region(id),
                        "dead-lettered routing key");
                Object deaths = p.getHeaders() == null ? null : p.getHeaders().get("x-death");
                Interop.check(deaths instanceof List && !((List<?>) deaths).isEmpty(),
                        "x-death header on order " + id + ": " + deaths);
                Object first = ((List<?>) deaths).get(0);
                Interop.check(first instanceof Map, "x-death[0] is a table: " + first);
                Map<?, ?> death = (Map<?, ?>) first;
                Interop.checkEq(str(death.get("queue")), paymentQ, "x-death queue");
                Interop.checkEq(str(death.get("reason")), "rejected", "x-death reason");
                Interop.checkEq(death.get("count"), 1L, "x-death count");
                Interop.checkEq(str(death.get("exchange")), orders, "x-death exchange");
                Object keys = death.get("routing-keys");
                Interop.check(keys instanceof List, "x-death routing-keys is an array: " + keys);
                List<String> keyList = new ArrayList<>();
                for (Object k : (List<?>) keys) keyList.add(str(k));
                Interop.checkEq(keyList, List.of("order.created." + region(id)), "x-death routing-keys");
                rc.basicAck(d.getEnvelope().getDeliveryTag(), false);
            }
            Interop.checkEq(rejectedIds, bad, "dead-lettered orders, in order");
            rc.basicCancel(rejectedTag);
            Interop.checkEq(rejected.poll(), null, "an extra dead-lettered order");

            for (Service s : List.of(inventory, email, payment)) {
                s.channel.basicCancel(s.consumerTag);
            }
            for (String q : List.of(inventoryQ, paymentQ, emailQ, rejectedQ)) {
                Interop.checkEq(ch.queueDeclarePassive(q).getMessageCount(), 0, "messages left in " + q);
            }
            for (String q : List.of(inventoryQ, paymentQ, emailQ, rejectedQ)) {
                Interop.checkEq(ch.queueDelete(q).getMessageCount(), 0, "messages deleted with " + q);
            }
            ch.exchangeDelete(orders);
            ch.exchangeDelete(dlx);
            cleanup.done();
        }
    }

    /** Starts a service that records and acks every order. */
    static void ackingService(Connection conn, String queue, Service s) throws Exception {
        Channel ch = conn.createChannel();
        ch.basicQos(10);
        s.channel = ch;
        s.consumerTag = ch.basicConsume(queue, false, (tag, d) -> {
            try {
                s.ids.add(orderId(d.getBody()));
                if (d.getEnvelope().isRedeliver()) {
                    s.redelivered.add(orderId(d.getBody()));
                }
                ch.basicAck(d.getEnvelope().getDeliveryTag(), false);
            } catch (Throwable t) {
                s.error.compareAndSet(null, t);
            }
            s.latch.countDown();
        }, tag -> s.error.compareAndSet(null, new AssertionError("consumer on " + queue + " cancelled")));
    }

    static List<Integer> sorted(List<Integer> list) {
        List<Integer> copy;
        synchronized (list) {
            copy = new ArrayList<>(list);
        }
        Collections.sort(copy);
        return copy;
    }

    /** A table string (the client decodes them as LongString) as a Java string. */
    static String str(Object value) {
        Interop.check(value instanceof LongString, "expected a string, got " + value);
        return value.toString();
    }
}
