import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DeliverCallback;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.LongString;
import com.rabbitmq.client.MessageProperties;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * RabbitMQ's Java client: confirmSelect + waitForConfirmsOrDie for 500 persistent publishes
 * with full properties, a confirm listener seeing every tag, a mandatory unroutable publish
 * coming back to the return listener, then a DeliverCallback consumer with prefetch 50 and
 * manual acks (one reject with requeue, redelivered), and an empty queue at the end.
 */
public class PublishConsumeConfirms {
    static final int COUNT = 500;

    public static void main(String[] args) {
        Interop.run("rabbitmq-java publish-consume-confirms", PublishConsumeConfirms::scenario);
    }

    static void scenario() throws Exception {
        try (Connection conn = Interop.factory().newConnection("interop-java-confirms")) {
            Channel ch = conn.createChannel();
            String queue = Interop.unique("java.confirms");
            AMQP.Queue.DeclareOk ok = ch.queueDeclare(queue, true, false, false, null);
            Interop.checkEq(ok.getQueue(), queue, "declared queue name");
            Interop.checkEq(ok.getMessageCount(), 0, "new queue depth");

            ch.confirmSelect();
            ConcurrentSkipListSet<Long> acked = new ConcurrentSkipListSet<>();
            ch.addConfirmListener(
                    (tag, multiple) -> {
                        if (multiple) {
                            for (long t = 1; t <= tag; t++) acked.add(t);
                        } else {
                            acked.add(tag);
                        }
                    },
                    (tag, multiple) -> {
                        throw new IllegalStateException("nack for " + tag);
                    });
            LinkedBlockingQueue<String> returns = new LinkedBlockingQueue<>();
            ch.addReturnListener(
                    r -> returns.add(r.getReplyCode() + " " + r.getReplyText() + " "
                            + r.getRoutingKey() + " " + new String(r.getBody(), StandardCharsets.UTF_8)));

            Date stamp = new Date((System.currentTimeMillis() / 1000) * 1000);
            for (int i = 0; i < COUNT; i++) {
                Map<String, Object> headers = new HashMap<>();
                headers.put("seq", i);
                headers.put("big", 1L << 40);
                headers.put("flag", i % 2 == 0);
                headers.put("name", "java-" + i);
                AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                        .contentType("text/plain")
                        .contentEncoding("utf-8")
                        .deliveryMode(2)
                        .priority(3)
                        .correlationId("c-" + i)
                        .messageId("m-" + i)
                        .timestamp(stamp)
                        .type("interop")
                        .appId("java-client")
                        .headers(headers)
                        .build();
                ch.basicPublish("", queue, props, ("message " + i).getBytes(StandardCharsets.UTF_8));
            }
            ch.waitForConfirmsOrDie(10_000);
            Interop.checkEq(acked.size(), COUNT, "distinct tags confirmed");
            Interop.checkEq(acked.first(), 1L, "first confirmed tag");
            Interop.checkEq(acked.last(), (long) COUNT, "last confirmed tag");

            String nowhere = Interop.unique("java.nowhere");
            ch.basicPublish("", nowhere, true, MessageProperties.TEXT_PLAIN, "lost".getBytes(StandardCharsets.UTF_8));
            ch.waitForConfirmsOrDie(10_000);
            String ret = returns.poll(10, TimeUnit.SECONDS);
            Interop.checkEq(ret, "312 NO_ROUTE " + nowhere + " lost", "returned message");

            Interop.checkEq(ch.queueDeclarePassive(queue).getMessageCount(), COUNT, "queue depth after confirms");

            Channel consumer = conn.createChannel();
            consumer.basicQos(50);
            LinkedBlockingQueue<Delivery> deliveries = new LinkedBlockingQueue<>();
            AtomicReference<String> cancelled = new AtomicReference<>();
            DeliverCallback onDeliver = (tag, delivery) -> deliveries.add(delivery);
            String ctag = consumer.basicConsume(queue, false, onDeliver, cancelled::set);
            Interop.check(ctag.startsWith("amq.ctag-"), "server-generated consumer tag " + ctag);

            List<Integer> firstTime = new ArrayList<>();
            boolean rejected = false;
            boolean redelivered = false;
            int settled = 0;
            while (settled < COUNT) {
                Delivery d = deliveries.poll(30, TimeUnit.SECONDS);
                Interop.check(d != null, "timed out waiting for deliveries (" + settled + " settled)");
                String body = new String(d.getBody(), StandardCharsets.UTF_8);
                int n = Integer.parseInt(body.substring("message ".length()));
                AMQP.BasicProperties p = d.getProperties();
                Interop.checkEq(p.getContentType(), "text/plain", "content type");
                Interop.checkEq(p.getContentEncoding(), "utf-8", "content encoding");
                Interop.checkEq(p.getDeliveryMode(), 2, "delivery mode");
                Interop.checkEq(p.getPriority(), 3, "priority");
                Interop.checkEq(p.getCorrelationId(), "c-" + n, "correlation id");
                Interop.checkEq(p.getMessageId(), "m-" + n, "message id");
                Interop.checkEq(p.getTimestamp(), stamp, "timestamp");
                Interop.checkEq(p.getType(), "interop", "type");
                Interop.checkEq(p.getAppId(), "java-client", "app id");
                Map<String, Object> h = p.getHeaders();
                Interop.checkEq(h.get("seq"), n, "int header");
                Interop.checkEq(h.get("big"), 1L << 40, "long header");
                Interop.checkEq(h.get("flag"), n % 2 == 0, "boolean header");
                Interop.check(h.get("name") instanceof LongString, "string header type " + h.get("name"));
                Interop.checkEq(h.get("name").toString(), "java-" + n, "string header");
                Interop.checkEq(d.getEnvelope().getRoutingKey(), queue, "routing key");
                if (d.getEnvelope().isRedeliver()) {
                    Interop.checkEq(n, 10, "only the rejected message is redelivered");
                    Interop.check(!redelivered, "redelivered once");
                    redelivered = true;
                    consumer.basicAck(d.getEnvelope().getDeliveryTag(), false);
                    settled++;
                    continue;
                }
                firstTime.add(n);
                if (n == 10 && !rejected) {
                    rejected = true;
                    consumer.basicReject(d.getEnvelope().getDeliveryTag(), true);
                } else {
                    consumer.basicAck(d.getEnvelope().getDeliveryTag(), false);
                    settled++;
                }
            }
            Interop.check(redelivered, "the rejected message came back");
            for (int i = 0; i < COUNT; i++) {
                Interop.checkEq(firstTime.get(i), i, "first deliveries in publish order");
            }
            consumer.basicCancel(ctag);
            Interop.checkEq(cancelled.get(), null, "no broker-side cancel");
            Interop.checkEq(ch.queueDelete(queue).getMessageCount(), 0, "queue empty at the end");
        }
    }
}
