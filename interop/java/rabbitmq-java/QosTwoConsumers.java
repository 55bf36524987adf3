import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Delivery;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * RabbitMQ's Java client: basic.qos prefetch with two consumers on one queue. A "slow"
 * consumer with prefetch 3 never acks: it holds exactly 3 messages and the
 * "fast" consumer (prefetch 5, acking) gets every other message, in order. Once the slow
 * channel closes its 3 messages are requeued and reach the fast consumer redelivered.
 */
public class QosTwoConsumers {
    static final int COUNT = 60;

    public static void main(String[] args) {
        Interop.run("rabbitmq-java qos-two-consumers", QosTwoConsumers::scenario);
    }

    static void scenario() throws Exception {
        try (Connection conn = Interop.factory().newConnection("interop-java-qos")) {
            Channel admin = conn.createChannel();
            String queue = Interop.unique("java.qos");
            admin.queueDeclare(queue, false, false, false, null);

            Channel slow = conn.createChannel();
            slow.basicQos(3);
            LinkedBlockingQueue<Delivery> slowGot = new LinkedBlockingQueue<>();
            slow.basicConsume(queue, false, "slow", (tag, d) -> slowGot.add(d), tag -> {});

            Channel fast = conn.createChannel();
            fast.basicQos(5);
            LinkedBlockingQueue<Delivery> fastGot = new LinkedBlockingQueue<>();
            fast.basicConsume(queue, false, "fast", (tag, d) -> {
                fastGot.add(d);
                fast.basicAck(d.getEnvelope().getDeliveryTag(), false);
            }, tag -> {});
            Interop.checkEq(admin.queueDeclarePassive(queue).getConsumerCount(), 2, "consumer count");

            admin.confirmSelect();
            for (int i = 0; i < COUNT; i++) {
                admin.basicPublish("", queue, null, Integer.toString(i).getBytes(StandardCharsets.UTF_8));
            }
            admin.waitForConfirmsOrDie(10_000);

            List<Integer> fastBodies = new ArrayList<>();
            List<Integer> slowBodies = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (fastBodies.size() < COUNT - 3 || slowBodies.size() < 3) {
                Interop.check(System.nanoTime() < deadline,
                        "timed out: fast got " + fastBodies.size() + ", slow got " + slowBodies);
                Delivery d = fastGot.poll(100, TimeUnit.MILLISECONDS);
                if (d != null) {
                    fastBodies.add(body(d));
                }
                Delivery s;
                while ((s = slowGot.poll()) != null) {
                    slowBodies.add(body(s));
                }
                Interop.check(slowBodies.size() <= 3, "the slow consumer exceeded its prefetch: " + slowBodies);
            }
            Interop.checkEq(slowBodies.size(), 3, "unacked messages held by the slow consumer");
            List<Integer> all = new ArrayList<>(fastBodies);
            all.addAll(slowBodies);
            all.sort(null);
            for (int i = 0; i < COUNT; i++) {
                Interop.checkEq(all.get(i), i, "every message delivered once");
            }
            for (int i = 1; i < fastBodies.size(); i++) {
                Interop.check(fastBodies.get(i - 1) < fastBodies.get(i), "fast consumer order " + fastBodies);
            }
            // Nothing else arrives at the slow consumer while it holds 3 unacked.
            Interop.checkEq(slowGot.poll(300, TimeUnit.MILLISECONDS), null, "a 4th delivery to the slow consumer");
            Interop.checkEq(admin.queueDeclarePassive(queue).getMessageCount(), 0, "ready messages");

            // Closing the slow channel requeues its 3 messages; the fast consumer gets them.
            slow.close();
            List<Integer> requeued = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Delivery d = fastGot.poll(10, TimeUnit.SECONDS);
                Interop.check(d != null, "requeued message " + i + " did not arrive");
                Interop.check(d.getEnvelope().isRedeliver(), "requeued message marked redelivered");
                requeued.add(body(d));
            }
            Interop.checkEq(requeued, slowBodies, "requeued messages, in their original order");
            Interop.checkEq(fastGot.poll(300, TimeUnit.MILLISECONDS), null, "an extra delivery");
            Interop.checkEq(admin.queueDelete(queue).getMessageCount(), 0, "queue empty");
        }
    }

    static int body(Delivery d) {
        return Integer.parseInt(new String(d.getBody(), StandardCharsets.UTF_8));
    }
}
