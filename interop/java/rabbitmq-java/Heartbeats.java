import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import com.rabbitmq.client.MissedHeartbeatException;
import com.rabbitmq.client.ShutdownSignalException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Heartbeats (RabbitMQ's Java client): a connection requesting INTEROP_HEARTBEAT seconds
 * (default 1) with ConnectionFactory.setRequestedHeartbeat must negotiate exactly that
 * (getHeartbeat()), then stay idle, with no traffic from the program, for
 * INTEROP_IDLE_SECONDS (default 4). The client sends heartbeats on its own and closes the
 * connection (MissedHeartbeatException) if the broker's stop arriving, so afterwards the
 * connection must still be open, no shutdown must have been signalled, and a publish +
 * basicGet round trip must work.
 *
 * Then a silent client: a second connection negotiates the same heartbeat with its
 * heartbeats scheduled on an executor of ours (ConnectionFactory.setHeartbeatExecutor),
 * which is shut down once the connection is open, so the client sends nothing at all. The
 * broker must close that connection after missing its heartbeats (RabbitMQ does so after
 * about two intervals); the client sees a shutdown it did not initiate.
 */
public class Heartbeats {
    static final int HEARTBEAT = Integer.parseInt(System.getenv().getOrDefault("INTEROP_HEARTBEAT", "1"));
    static final double IDLE = Double.parseDouble(System.getenv().getOrDefault("INTEROP_IDLE_SECONDS", "4"));

    public static void main(String[] args) {
        Interop.run("rabbitmq-java heartbeats", Heartbeats::scenario);
    }

    static void scenario() throws Exception {
        keptAlive();
        silentClientDropped();
    }

    static void keptAlive() throws Exception {
        ConnectionFactory factory = Interop.factory();
        factory.setRequestedHeartbeat(HEARTBEAT);
        try (Connection conn = factory.newConnection("interop-java-heartbeats")) {
            Interop.checkEq(conn.getHeartbeat(), HEARTBEAT, "negotiated heartbeat");
            AtomicReference<String> shutdown = new AtomicReference<>();
            CountDownLatch closed = new CountDownLatch(1);
            conn.addShutdownListener(cause -> {
                shutdown.compareAndSet(null, String.valueOf(cause));
                closed.countDown();
            });
            Channel ch = conn.createChannel();
            String queue = ch.queueDeclare().getQueue();

            // The intentional idle period: returns early only if the connection is shut down.
            boolean died = closed.await((long) (IDLE * 1000), TimeUnit.MILLISECONDS);
            Interop.check(!died, "connection shut down during the idle period: " + shutdown.get());
            Interop.check(conn.isOpen() && ch.isOpen(), "connection and channel open after idling " + IDLE + " s");

            ch.confirmSelect();
            ch.basicPublish("", queue, null, Interop.utf8("still here"));
            ch.waitForConfirmsOrDie(10_000);
            GetResponse r = ch.basicGet(queue, true);
            Interop.check(r != null, "the message published after the idle period is in the queue");
            Interop.checkEq(Interop.text(r.getBody()), "still here", "message after the idle period");
            Interop.checkEq(ch.queueDelete(queue).getMessageCount(), 0, "messages left");
            Interop.checkEq(shutdown.get(), null, "shutdown signal");
        }
    }

    static void silentClientDropped() throws Exception {
        ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor();
        ConnectionFactory factory = Interop.factory();
        factory.setRequestedHeartbeat(HEARTBEAT);
        factory.setHeartbeatExecutor(heartbeats);
        Connection conn = factory.newConnection("interop-java-silent");
        try {
            Interop.checkEq(conn.getHeartbeat(), HEARTBEAT, "negotiated heartbeat (silent client)");
            AtomicReference<ShutdownSignalException> shutdown = new AtomicReference<>();
            CountDownLatch closed = new CountDownLatch(1);
            conn.addShutdownListener(cause -> {
                shutdown.compareAndSet(null, cause);
                closed.countDown();
            });
            heartbeats.shutdownNow();
            long start = System.nanoTime();
            Interop.check(closed.await(HEARTBEAT * 5L + 3, TimeUnit.SECONDS),
                    "the broker kept a connection that sent nothing for " + (HEARTBEAT * 5 + 3) + " s");
            System.out.printf("silent client dropped after %.1f s: %s%n", (System.nanoTime() - start) / 1e9,
                    shutdown.get().getCause());
            Interop.check(!shutdown.get().isInitiatedByApplication(), "the broker ended the connection: " + shutdown.get());
            Interop.check(!(shutdown.get().getCause() instanceof MissedHeartbeatException),
                    "the broker, not the client, gave up: " + shutdown.get().getCause());
            Interop.check(!conn.isOpen(), "the connection is closed");
        } finally {
            heartbeats.shutdownNow();
            if (conn.isOpen()) {
                conn.abort(5_000);
            }
        }
    }
}
