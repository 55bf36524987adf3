import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Publish/subscribe (RabbitMQ's Java client).
 *
 * Fanout: three subscribers, each on its own channel with an exclusive server-named queue
 * (amq.gen-...) bound to a fanout exchange and its own consumer; 100 confirmed messages and
 * an end marker: each subscriber gets exactly messages 0..99 in order, then the marker.
 *
 * Headers exchange: queue A bound x-match=all {format: pdf, type: report}, queue B bound
 * x-match=any {format: zip, type: log}; messages with header sets {pdf, report},
 * {pdf, log}, {zip}, {pdf}, {pdf, report, extra: 1} and none are published mandatory
 * with confirms. A gets exactly {pdf, report} and {pdf, report, extra}, B exactly
 * {pdf, log} and {zip} (in order, via basicGet with message counts), and the two that
 * match nothing come back to the return listener as 312 NO_ROUTE.
 */
public class PubSub {
    static final int MESSAGES = 100;
    static final int SUBSCRIBERS = 3;

    public static void main(String[] args) {
        Interop.run("rabbitmq-java pubsub", PubSub::scenario);
    }

    static void scenario() throws Exception {
        try (Interop.Cleanup cleanup = new Interop.Cleanup();
                Connection conn = Interop.factory().newConnection("interop-java-pubsub")) {
            fanout(conn, cleanup);
            headers(conn, cleanup);
            cleanup.done();
        }
    }

    static void fanout(Connection conn, Interop.Cleanup cleanup) throws Exception {
        Channel pub = conn.createChannel();
        String exchange = cleanup.exchange(Interop.unique("java.fanout"));
        pub.exchangeDeclare(exchange, BuiltinExchangeType.FANOUT);

        List<List<String>> got = new ArrayList<>();
        CountDownLatch ended = new CountDownLatch(SUBSCRIBERS);
        List<Channel> channels = new ArrayList<>();
        List<String> queues = new ArrayList<>();
        for (int s = 0; s < SUBSCRIBERS; s++) {
            Channel sub = conn.createChannel();
            String queue = sub.queueDeclare().getQueue();
            Interop.check(queue.startsWith("amq.gen-"), "server-named queue " + queue);
            sub.queueBind(queue, exchange, "");
            List<String> mine = Collections.synchronizedList(new ArrayList<>());
            got.add(mine);
            sub.basicConsume(queue, true, (tag, d) -> {
                String body = Interop.text(d.getBody());
                mine.add(body);
                if (body.equals("end")) {
                    ended.countDown();
                }
            }, tag -> {});
            channels.add(sub);
            queues.add(queue);
        }
        Interop.checkEq(queues.stream().distinct().count(), (long) SUBSCRIBERS, "distinct subscriber queues");

        pub.confirmSelect();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < MESSAGES; i++) {
            String body = "news " + i;
            expected.add(body);
            pub.basicPublish(exchange, "ignored-" + i, null, Interop.utf8(body));
        }
        pub.basicPublish(exchange, "", null, Interop.utf8("end"));
        expected.add("end");
        pub.waitForConfirmsOrDie(10_000);
        Interop.check(ended.await(15, TimeUnit.SECONDS), "not every subscriber got the end marker");
        for (int s = 0; s < SUBSCRIBERS; s++) {
            synchronized (got.get(s)) {
                Interop.checkEq(got.get(s), expected, "messages of subscriber " + s);
            }
        }
        // Closing a subscriber's channel does not delete its exclusive queue (the connection
        // owns it); queue.delete does.
        for (int s = 0; s < SUBSCRIBERS; s++) {
            channels.get(s).close();
            Interop.checkEq(pub.queueDelete(queues.get(s)).getMessageCount(), 0, "messages left for subscriber " + s);
        }
        pub.exchangeDelete(exchange);
        pub.close();
    }

    static void headers(Connection conn, Interop.Cleanup cleanup) throws Exception {
        Channel ch = conn.createChannel();
        String exchange = cleanup.exchange(Interop.unique("java.headers"));
        ch.exchangeDeclare(exchange, BuiltinExchangeType.HEADERS);
        String queueA = cleanup.queue(Interop.unique("java.headers-all"));
        String queueB = cleanup.queue(Interop.unique("java.headers-any"));
        ch.queueDeclare(queueA, false, false, false, null);
        ch.queueDeclare(queueB, false, false, false, null);
        ch.queueBind(queueA, exchange, "", Map.of("x-match", "all", "format", "pdf", "type", "report"));
        ch.queueBind(queueB, exchange, "", Map.of("x-match", "any", "format", "zip", "type", "log"));

        Map<String, Map<String, Object>> messages = new LinkedHashMap<>();
        messages.put("pdf-report", Map.of("format", "pdf", "type", "report"));
        messages.put("pdf-log", Map.of("format", "pdf", "type", "log"));
        messages.put("zip", Map.of("format", "zip"));
        messages.put("pdf", Map.of("format", "pdf"));
        messages.put("pdf-report-extra", Map.of("format", "pdf", "type", "report", "extra", 1));
        messages.put("no-headers", null);

        List<String> returned = Collections.synchronizedList(new ArrayList<>());
        ch.addReturnListener(r -> returned.add(r.getReplyCode() + " " + r.getReplyText() + " "
                + r.getExchange() + " " + Interop.text(r.getBody())));
        ch.confirmSelect();
        for (Map.Entry<String, Map<String, Object>> m : messages.entrySet()) {
            AMQP.BasicProperties props = new AMQP.BasicProperties.Builder().headers(m.getValue()).build();
            ch.basicPublish(exchange, "key-" + m.getKey(), true, props, Interop.utf8(m.getKey()));
        }
        // With confirms, a message's basic.return arrives before its ack.
        ch.waitForConfirmsOrDie(10_000);
        synchronized (returned) {
            Interop.checkEq(returned, List.of("312 NO_ROUTE " + exchange + " pdf", "312 NO_ROUTE " + exchange + " no-headers"),
                    "messages no binding matched");
        }
        Interop.checkEq(drain(ch, queueA), List.of("pdf-report", "pdf-report-extra"), "x-match=all queue");
        Interop.checkEq(drain(ch, queueB), List.of("pdf-log", "zip"), "x-match=any queue");
        ch.queueDelete(queueA);
        ch.queueDelete(queueB);
        ch.exchangeDelete(exchange);
        ch.close();
    }

    /** basicGet until empty, checking message counts; the bodies in order. */
    static List<String> drain(Channel ch, String queue) throws Exception {
        int depth = ch.queueDeclarePassive(queue).getMessageCount();
        List<String> bodies = new ArrayList<>();
        GetResponse r;
        while ((r = ch.basicGet(queue, true)) != null) {
            bodies.add(Interop.text(r.getBody()));
            Interop.checkEq(r.getMessageCount(), depth - bodies.size(), "message count in basic.get-ok");
        }
        Interop.checkEq(bodies.size(), depth, "messages fetched from " + queue);
        return bodies;
    }
}
