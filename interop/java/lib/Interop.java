import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/** Helpers shared by the Java interop scenarios: broker URI, unique names, checks. */
final class Interop {
    private Interop() {}

    static final String DEFAULT_URI = "amqp://guest:guest@127.0.0.1:5672/%2F";

    /** The broker under test, from $AMQP_URI. */
    static String uri() {
        return System.getenv().getOrDefault("AMQP_URI", DEFAULT_URI);
    }

    /** The user name in $AMQP_URI (the identity the broker authenticates). */
    static String uriUser() {
        String info = URI.create(uri()).getRawUserInfo();
        if (info == null || info.isEmpty()) {
            return "guest";
        }
        int colon = info.indexOf(':');
        return URLDecoder.decode(colon < 0 ? info : info.substring(0, colon), StandardCharsets.UTF_8);
    }

    /** A connection factory for $AMQP_URI. */
    static ConnectionFactory factory() throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setUri(uri());
        factory.setAutomaticRecoveryEnabled(false);
        return factory;
    }

    /** interop.<what>.<random>: a name no other run uses. */
    static String unique(String what) {
        return "interop." + what + "." + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    }

    static void check(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError(message);
        }
    }

    static void checkEq(Object actual, Object expected, String what) {
        if (!Objects.equals(actual, expected)) {
            throw new AssertionError(what + ": expected <" + expected + ">, got <" + actual + ">");
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String text(byte[] body) {
        return new String(body, StandardCharsets.UTF_8);
    }

    /** Lower-case hex SHA-256 of the bytes. */
    static String sha256(byte[] data) {
        try {
            StringBuilder sb = new StringBuilder(64);
            for (byte b : MessageDigest.getInstance("SHA-256").digest(data)) {
                sb.append(String.format("%02x", b & 0xff));
            }
            return sb.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A hang guard: a point in time `seconds` from now. */
    static final class Deadline {
        private final long end;

        Deadline(long seconds) {
            end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        }

        long remainingMillis() {
            return Math.max(0, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime()));
        }

        boolean expired() {
            return System.nanoTime() - end >= 0;
        }
    }

    /**
     * Deletes what a scenario declared if the scenario did not finish (best effort, on a
     * connection of its own). Register names as they are declared; call done() after the
     * scenario's own deletes on the success path.
     */
    static final class Cleanup implements AutoCloseable {
        private final List<String> queues = new ArrayList<>();
        private final List<String> exchanges = new ArrayList<>();
        private boolean done;

        String queue(String name) {
            synchronized (this) {
                queues.add(name);
            }
            return name;
        }

        String exchange(String name) {
            synchronized (this) {
                exchanges.add(name);
            }
            return name;
        }

        synchronized void done() {
            done = true;
        }

        @Override
        public synchronized void close() {
            if (done || (queues.isEmpty() && exchanges.isEmpty())) {
                return;
            }
            try (Connection conn = factory().newConnection("interop-java-cleanup")) {
                for (String q : queues) {
                    try (Channel ch = conn.createChannel()) {
                        ch.queueDelete(q);
                    } catch (Exception e) {
                        // best effort
                    }
                }
                for (String x : exchanges) {
                    try (Channel ch = conn.createChannel()) {
                        ch.exchangeDelete(x);
                    } catch (Exception e) {
                        // best effort
                    }
                }
            } catch (Exception e) {
                System.err.println("cleanup failed: " + e);
            }
        }
    }

    /** Runs a scenario: exit 0 on success, 1 with the failure printed otherwise. */
    static void run(String name, ThrowingRunnable body) {
        try {
            body.run();
            System.out.println(name + ": ok");
            System.exit(0);
        } catch (Throwable t) {
            t.printStackTrace();
            System.exit(1);
        }
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }
}
