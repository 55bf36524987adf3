import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Load levelling (RabbitMQ's Java client): a burst of INTEROP_BURST (default 100,000) small
 * sequence-numbered messages is published with publisher confirms through a direct
 * exchange, alternating between keys q0 and q1 (one queue each), while nobody consumes.
 * Once every confirm is in (all acked, tags 1..N), each queue must report exactly N/2
 * messages. Then one consumer per queue (own channel, prefetch 1000, acking with
 * multiple=true every 100) drains it: every message exactly once, strictly in publish order
 * per queue, none redelivered; both queues end empty.
 */
public class LoadLevelling {
    static final int BURST = Integer.parseInt(System.getenv().getOrDefault("INTEROP_BURST", "100000"));
    static final int PREFETCH = 1000;
    static final int ACK_EVERY = 100;

    public static void main(String[] args) {
        Interop.run("rabbitmq-java load-levelling", LoadLevelling::scenario);
    }

    static void scenario() throws Exception {
        Interop.check(BURST % 2 == 0, "INTEROP_BURST must be even");
        String exchange = Interop.unique("java.levelling");
        String[] queues = {Interop.unique("java.levelling-q0"), Interop.unique("java.levelling-q1")};
        try (Interop.Cleanup cleanup = new Interop.Cleanup();
                Connection producer = Interop.factory().newConnection("interop-java-levelling-producer");
                Connection consumer = Interop.factory().newConnection("interop-java-levelling-consumer")) {
            Channel pch = producer.createChannel();
            pch.exchangeDeclare(cleanup.exchange(exchange), BuiltinExchangeType.DIRECT);
            for (int q = 0; q < 2; q++) {
                pch.queueDeclare(cleanup.queue(queues[q]), true, false, false, null);
                pch.queueBind(queues[q], exchange, "q" + q);
            }

            pch.confirmSelect();
            ConcurrentSkipListSet<Long> acked = new ConcurrentSkipListSet<>();
            long[] ackedUpTo = {0};
            AtomicReference<String> nacked = new AtomicReference<>();
            pch.addConfirmListener((tag, multiple) -> {
                // Runs on the connection's thread, one frame at a time.
                if (multiple) {
                    ackedUpTo[0] = Math.max(ackedUpTo[0], tag);
                } else {
                    acked.add(tag);
                }
            }, (tag, multiple) -> nacked.compareAndSet(null, "nack for " + tag));
            long start = System.nanoTime();
            byte[] padding = new byte[24];
            for (int i = 0; i < BURST; i++) {
                ByteBuffer body = ByteBuffer.allocate(8 + padding.length).putLong(i).put(padding);
                pch.basicPublish(exchange, "q" + (i % 2), null, body.array());
            }
            pch.waitForConfirmsOrDie(60_000);
            Interop.checkEq(nacked.get(), null, "publisher nacks");
            // Every tag 1..BURST acked, singly or by a multiple ack.
            for (long t = ackedUpTo[0] + 1; t <= BURST; t++) {
                Interop.check(acked.contains(t), "no ack for delivery tag " + t);
            }
            System.out.printf("burst of %d confirmed in %.1f s%n", BURST, (System.nanoTime() - start) / 1e9);
            for (String q : queues) {
                Interop.checkEq(pch.queueDeclarePassive(q).getMessageCount(), BURST / 2, "depth of " + q);
            }

            // Drain both queues at once, one channel and consumer each.
            CountDownLatch drained = new CountDownLatch(2);
            AtomicReference<String> failure = new AtomicReference<>();
            Channel[] channels = new Channel[2];
            String[] tags = new String[2];
            for (int q = 0; q < 2; q++) {
                Channel cch = consumer.createChannel();
                cch.basicQos(PREFETCH);
                channels[q] = cch;
                long[] expected = {q};
                int[] count = {0};
                String name = queues[q];
                tags[q] = cch.basicConsume(name, false, (tag, d) -> {
                    long seq = ByteBuffer.wrap(d.getBody()).getLong();
                    if (seq != expected[0] || d.getBody().length != 32 || d.getEnvelope().isRedeliver()) {
                        failure.compareAndSet(null, name + ": got seq " + seq + " (expected " + expected[0]
                                + "), length " + d.getBody().length + ", redelivered " + d.getEnvelope().isRedeliver());
                        drained.countDown();
                        return;
                    }
                    expected[0] += 2;
                    count[0]++;
                    if (count[0] % ACK_EVERY == 0 || count[0] == BURST / 2) {
                        cch.basicAck(d.getEnvelope().getDeliveryTag(), true);
                    }
                    if (count[0] == BURST / 2) {
                        drained.countDown();
                    }
                }, tag -> failure.compareAndSet(null, "consumer on " + name + " cancelled"));
            }
            Interop.check(drained.await(60, TimeUnit.SECONDS), "timed out draining the queues");
            Interop.checkEq(failure.get(), null, "drain failure");
            System.out.printf("drained after %.1f s%n", (System.nanoTime() - start) / 1e9);
            for (int q = 0; q < 2; q++) {
                channels[q].basicCancel(tags[q]);
            }
            for (String q : List.of(queues)) {
                Interop.checkEq(pch.queueDeclarePassive(q).getMessageCount(), 0, "messages left in " + q);
                Interop.checkEq(pch.queueDelete(q).getMessageCount(), 0, "messages deleted with " + q);
            }
            pch.exchangeDelete(exchange);
            cleanup.done();
        }
    }
}
