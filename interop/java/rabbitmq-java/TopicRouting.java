import com.rabbitmq.client.AlreadyClosedException;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import com.rabbitmq.client.ShutdownSignalException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * RabbitMQ's Java client: tutorial 5's topic bindings plus edge cases, checked per queue
 * with basicGet (message counts included); redeclaring the exchange with another type
 * closes the channel with RabbitMQ's 406 text.
 */
public class TopicRouting {
    static final String[] KEYS = {
        "quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox", "lazy.brown.fox",
        "lazy.pink.rabbit", "quick.brown.fox", "orange", "quick.orange.male.rabbit",
        "lazy.orange.male.rabbit", "lazy", "#", "*",
    };

    public static void main(String[] args) {
        Interop.run("rabbitmq-java topic-routing", TopicRouting::scenario);
    }

    static void scenario() throws Exception {
        try (Connection conn = Interop.factory().newConnection("interop-java-topic")) {
            Channel ch = conn.createChannel();
            String exchange = Interop.unique("java.topic");
            ch.exchangeDeclare(exchange, BuiltinExchangeType.TOPIC);
            String q1 = ch.queueDeclare().getQueue();
            String q2 = ch.queueDeclare().getQueue();
            String q3 = ch.queueDeclare().getQueue();
            Interop.check(q1.startsWith("amq.gen-"), "server-named queue " + q1);
            ch.queueBind(q1, exchange, "*.orange.*");
            ch.queueBind(q2, exchange, "*.*.rabbit");
            ch.queueBind(q2, exchange, "lazy.#");
            ch.queueBind(q3, exchange, "*");

            ch.confirmSelect();
            for (String key : KEYS) {
                ch.basicPublish(exchange, key, null, key.getBytes(StandardCharsets.UTF_8));
            }
            ch.waitForConfirmsOrDie(10_000);

            checkQueue(ch, q1, "quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox");
            checkQueue(ch, q2, "quick.orange.rabbit", "lazy.orange.elephant", "lazy.brown.fox",
                    "lazy.pink.rabbit", "lazy.orange.male.rabbit", "lazy");
            // Keys are not patterns: "#" and "*" published as keys are single plain words.
            checkQueue(ch, q3, "orange", "lazy", "#", "*");

            // Redeclaring with another type: 406, channel closed.
            Channel other = conn.createChannel();
            try {
                other.exchangeDeclare(exchange, BuiltinExchangeType.DIRECT);
                throw new AssertionError("redeclaring a topic exchange as direct succeeded");
            } catch (IOException e) {
                ShutdownSignalException sse = (ShutdownSignalException) e.getCause();
                com.rabbitmq.client.AMQP.Channel.Close close =
                        (com.rabbitmq.client.AMQP.Channel.Close) sse.getReason();
                Interop.checkEq(close.getReplyCode(), 406, "reply code");
                Interop.checkEq(close.getReplyText(),
                        "PRECONDITION_FAILED - inequivalent arg 'type' for exchange '" + exchange
                                + "' in vhost '/': received 'direct' but current is 'topic'",
                        "reply text");
            }
            Interop.check(!other.isOpen(), "channel closed after the 406");
            try {
                other.basicQos(1);
                throw new AssertionError("a closed channel accepted a method");
            } catch (AlreadyClosedException expected) {
                // as documented
            }

            for (String q : List.of(q1, q2, q3)) {
                Interop.checkEq(ch.queueDelete(q).getMessageCount(), 0, "emptied " + q);
            }
            ch.exchangeDelete(exchange);
        }
    }

    static void checkQueue(Channel ch, String queue, String... expected) throws IOException {
        List<String> got = new ArrayList<>();
        GetResponse r;
        while ((r = ch.basicGet(queue, true)) != null) {
            String body = new String(r.getBody(), StandardCharsets.UTF_8);
            Interop.checkEq(r.getEnvelope().getRoutingKey(), body, "routing key");
            Interop.checkEq(r.getMessageCount(), expected.length - got.size() - 1, "message count after " + body);
            got.add(body);
        }
        Interop.checkEq(got, Arrays.asList(expected), "keys in " + queue);
    }
}
