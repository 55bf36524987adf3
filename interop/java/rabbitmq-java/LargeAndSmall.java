import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.GetResponse;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Large and small bodies (RabbitMQ's Java client).
 *
 * One 16 MiB body of pseudo-random bytes, published persistent with confirms to a durable
 * queue (many body frames at the negotiated frame_max), is consumed back on a second
 * connection: length, SHA-256 and a header carrying the digest compared. Then 10,000
 * small messages with lengths 0..100 bytes (the first one empty) are published with
 * confirms and consumed back exactly, in order; basicGet then finds the queue empty.
 */
public class LargeAndSmall {
    static final int LARGE = 16 * 1024 * 1024;
    static final int SMALL = 10_000;

    public static void main(String[] args) {
        Interop.run("rabbitmq-java large-and-small", LargeAndSmall::scenario);
    }

    static byte[] small(int i) {
        byte[] b = new byte[i % 101];
        for (int k = 0; k < b.length; k++) {
            b[k] = (byte) (i * 31 + k * 7);
        }
        return b;
    }

    static void scenario() throws Exception {
        String queue = Interop.unique("java.large-small");
        try (Interop.Cleanup cleanup = new Interop.Cleanup();
                Connection pubConn = Interop.factory().newConnection("interop-java-large-publisher");
                Connection subConn = Interop.factory().newConnection("interop-java-large-consumer")) {
            Channel pub = pubConn.createChannel();
            pub.queueDeclare(cleanup.queue(queue), true, false, false, null);
            pub.confirmSelect();

            byte[] large = new byte[LARGE];
            new Random(16).nextBytes(large);
            String digest = Interop.sha256(large);
            AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                    .deliveryMode(2)
                    .headers(Map.of("sha256", digest))
                    .build();
            pub.basicPublish("", queue, props, large);
            pub.waitForConfirmsOrDie(30_000);

            Channel sub = subConn.createChannel();
            sub.basicQos(100);
            LinkedBlockingQueue<Delivery> got = new LinkedBlockingQueue<>();
            String ctag = sub.basicConsume(queue, false, (tag, d) -> got.add(d), tag -> {});
            Delivery d = got.poll(30, TimeUnit.SECONDS);
            Interop.check(d != null, "the 16 MiB message did not arrive within 30 s");
            Interop.checkEq(d.getBody().length, LARGE, "consumed body length");
            Interop.checkEq(Interop.sha256(d.getBody()), digest, "consumed body SHA-256");
            Interop.checkEq(String.valueOf(d.getProperties().getHeaders().get("sha256")), digest, "digest header");
            Interop.checkEq(d.getProperties().getDeliveryMode(), 2, "delivery mode of the large message");
            sub.basicAck(d.getEnvelope().getDeliveryTag(), false);

            for (int i = 0; i < SMALL; i++) {
                pub.basicPublish("", queue, null, small(i));
            }
            pub.waitForConfirmsOrDie(30_000);
            for (int i = 0; i < SMALL; i++) {
                Delivery s = got.poll(30, TimeUnit.SECONDS);
                Interop.check(s != null, "small message " + i + " did not arrive within 30 s");
                if (!Arrays.equals(s.getBody(), small(i))) {
                    throw new AssertionError("small message " + i + ": expected " + small(i).length
                            + " bytes " + Arrays.toString(small(i)) + ", got " + s.getBody().length
                            + " bytes " + Arrays.toString(s.getBody()));
                }
                Interop.check(!s.getEnvelope().isRedeliver(), "small message " + i + " flagged redelivered");
                if (i % 100 == 99) {
                    sub.basicAck(s.getEnvelope().getDeliveryTag(), true);
                }
            }
            sub.basicCancel(ctag);
            Interop.checkEq(got.poll(), null, "an extra delivery");
            GetResponse none = sub.basicGet(queue, true);
            Interop.checkEq(none == null ? null : Interop.text(none.getBody()), null, "basicGet on the drained queue");
            Interop.checkEq(pub.queueDelete(queue).getMessageCount(), 0, "messages left");
            cleanup.done();
        }
    }
}
