import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DeliverCallback;
import com.rabbitmq.client.RpcClient;
import com.rabbitmq.client.StringRpcServer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * RabbitMQ's Java client: tutorial 6 RPC (server with basicQos(1) and manual acks, client
 * with an exclusive callback queue and correlation ids; sequential and 40 concurrent calls,
 * a stray reply ignored), then the library's own RpcClient, which uses direct reply-to
 * (amq.rabbitmq.reply-to), against a StringRpcServer.
 */
public class Rpc {
    static long fib(int n) {
        long a = 0, b = 1;
        for (int i = 0; i < n; i++) {
            long t = a + b;
            a = b;
            b = t;
        }
        return a;
    }

    public static void main(String[] args) {
        Interop.run("rabbitmq-java rpc", Rpc::scenario);
    }

    static void scenario() throws Exception {
        try (Connection serverConn = Interop.factory().newConnection("interop-java-rpc-server");
                Connection clientConn = Interop.factory().newConnection("interop-java-rpc-client")) {
            // The tutorial's server.
            String rpcQueue = Interop.unique("java.rpc");
            Channel server = serverConn.createChannel();
            server.queueDeclare(rpcQueue, false, false, false, null);
            server.queuePurge(rpcQueue);
            server.basicQos(1);
            List<Integer> served = new ArrayList<>();
            DeliverCallback serve = (tag, delivery) -> {
                AMQP.BasicProperties replyProps = new AMQP.BasicProperties.Builder()
                        .correlationId(delivery.getProperties().getCorrelationId())
                        .build();
                int n = Integer.parseInt(new String(delivery.getBody(), StandardCharsets.UTF_8));
                synchronized (served) {
                    served.add(n);
                }
                server.basicPublish("", delivery.getProperties().getReplyTo(), replyProps,
                        Long.toString(fib(n)).getBytes(StandardCharsets.UTF_8));
                server.basicAck(delivery.getEnvelope().getDeliveryTag(), false);
            };
            String serverTag = server.basicConsume(rpcQueue, false, serve, tag -> {});

            // The tutorial's client.
            Channel client = clientConn.createChannel();
            String replyQueue = client.queueDeclare().getQueue();
            Interop.check(replyQueue.startsWith("amq.gen-"), "server-named callback queue " + replyQueue);
            Map<String, CompletableFuture<String>> pending = new ConcurrentHashMap<>();
            List<String> strays = new ArrayList<>();
            client.basicConsume(replyQueue, true, (tag, delivery) -> {
                CompletableFuture<String> f = pending.remove(delivery.getProperties().getCorrelationId());
                if (f == null) {
                    synchronized (strays) {
                        strays.add(new String(delivery.getBody(), StandardCharsets.UTF_8));
                    }
                } else {
                    f.complete(new String(delivery.getBody(), StandardCharsets.UTF_8));
                }
            }, tag -> {});
            client.basicPublish("", replyQueue,
                    new AMQP.BasicProperties.Builder().correlationId("nobody").build(),
                    "stray".getBytes(StandardCharsets.UTF_8));

            List<Integer> sent = new ArrayList<>();
            for (int n : new int[] {0, 1, 2, 10, 30, 50}) {
                Interop.checkEq(call(client, rpcQueue, replyQueue, pending, n).get(10, TimeUnit.SECONDS),
                        Long.toString(fib(n)), "fib(" + n + ")");
                sent.add(n);
            }
            Map<Integer, CompletableFuture<String>> batch = new HashMap<>();
            for (int n = 0; n < 40; n++) {
                batch.put(n, call(client, rpcQueue, replyQueue, pending, n));
                sent.add(n);
            }
            for (Map.Entry<Integer, CompletableFuture<String>> e : batch.entrySet()) {
                Interop.checkEq(e.getValue().get(10, TimeUnit.SECONDS), Long.toString(fib(e.getKey())),
                        "batched fib(" + e.getKey() + ")");
            }
            synchronized (strays) {
                Interop.checkEq(strays, List.of("stray"), "stray replies");
            }
            synchronized (served) {
                Interop.checkEq(served, sent, "requests served in order");
            }
            server.basicCancel(serverTag);

            // The library's RpcClient (direct reply-to) with a StringRpcServer.
            String stringQueue = Interop.unique("java.rpc-string");
            Channel srvCh = serverConn.createChannel();
            srvCh.queueDeclare(stringQueue, false, false, true, null);
            StringRpcServer stringServer = new StringRpcServer(srvCh, stringQueue) {
                @Override
                public String handleStringCall(String request, AMQP.BasicProperties replyProperties) {
                    Interop.check(replyProperties.getCorrelationId() != null, "reply correlation id");
                    return "echo:" + request.toUpperCase();
                }
            };
            Thread loop = new Thread(() -> {
                try {
                    stringServer.mainloop();
                } catch (Exception e) {
                    // ends when the server is closed
                }
            });
            loop.setDaemon(true);
            loop.start();
            RpcClient rpc = new RpcClient(client, "", stringQueue, "amq.rabbitmq.reply-to", 10_000);
            for (int i = 0; i < 20; i++) {
                Interop.checkEq(rpc.stringCall("hello " + i), "echo:HELLO " + i, "RpcClient call " + i);
            }
            rpc.close();
            // Closing the server's channel ends its mainloop.
            stringServer.terminateMainloop();
            srvCh.close();
            loop.join(10_000);
            Interop.check(!loop.isAlive(), "StringRpcServer mainloop still running");

            Interop.checkEq(server.queueDelete(rpcQueue).getMessageCount(), 0, "rpc queue empty");
            server.queueDeleteNoWait(stringQueue, false, false);
        }
    }

    static CompletableFuture<String> call(Channel ch, String rpcQueue, String replyQueue,
            Map<String, CompletableFuture<String>> pending, int n) throws Exception {
        String id = UUID.randomUUID().toString();
        CompletableFuture<String> f = new CompletableFuture<>();
        pending.put(id, f);
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                .correlationId(id)
                .replyTo(replyQueue)
                .build();
        ch.basicPublish("", rpcQueue, props, Integer.toString(n).getBytes(StandardCharsets.UTF_8));
        return f;
    }
}
