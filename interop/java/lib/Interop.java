import com.rabbitmq.client.ConnectionFactory;
import java.util.Objects;
import java.util.UUID;

/** Helpers shared by the Java interop scenarios: broker URI, unique names, checks. */
final class Interop {
    private Interop() {}

    /** A connection factory for $AMQP_URI. */
    static ConnectionFactory factory() throws Exception {
        String uri = System.getenv().getOrDefault("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/%2F");
        ConnectionFactory factory = new ConnectionFactory();
        factory.setUri(uri);
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
