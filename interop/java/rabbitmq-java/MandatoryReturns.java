import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Return;
import com.rabbitmq.client.ShutdownSignalException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Mandatory publishing and basic.return (RabbitMQ's Java client, ReturnListener).
 *
 * - mandatory to a missing queue through the default exchange: returned with 312 NO_ROUTE,
 *   the exchange and routing key it was published with, body and properties (message id,
 *   content type, headers) intact;
 * - mandatory through a direct exchange with no matching binding: returned likewise;
 * - mandatory and routable: delivered, not returned;
 * - not mandatory and unroutable: dropped silently, the channel stays usable;
 * - with confirms: the unroutable mandatory publish is returned and then acked (never
 *   nacked), the return arriving before the ack; routable ones are simply acked;
 * - a publish to a missing exchange closes the channel with 404 NOT_FOUND and RabbitMQ's
 *   text, and the connection's other channels stay open.
 * (PublishConsumeConfirms also checks one mandatory return; this covers the rest.)
 */
public class MandatoryReturns {
    public static void main(String[] args) {
        Interop.run("rabbitmq-java mandatory-returns", MandatoryReturns::scenario);
    }

    static void scenario() throws Exception {
        try (Interop.Cleanup cleanup = new Interop.Cleanup();
                Connection conn = Interop.factory().newConnection("interop-java-mandatory")) {
            Channel ch = conn.createChannel();
            String exchange = cleanup.exchange(Interop.unique("java.mandatory-ex"));
            String queue = cleanup.queue(Interop.unique("java.mandatory-q"));
            ch.exchangeDeclare(exchange, BuiltinExchangeType.DIRECT);
            ch.queueDeclare(queue, false, false, false, null);
            ch.queueBind(queue, exchange, "bound");

            List<Return> returns = Collections.synchronizedList(new ArrayList<>());
            ch.addReturnListener(returns::add);

            String missing = Interop.unique("java.no-such-queue");
            AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                    .messageId("r-1")
                    .contentType("text/plain")
                    .headers(Map.of("why", "no queue", "n", 7))
                    .build();
            ch.basicPublish("", missing, true, props, Interop.utf8("to nowhere"));
            ch.basicPublish(exchange, "unbound", true, null, Interop.utf8("unbound key"));
            ch.basicPublish(exchange, "bound", true, null, Interop.utf8("routable"));
            ch.basicPublish(exchange, "unbound", false, null, Interop.utf8("dropped quietly"));
            // A synchronous round trip on the same channel: any return for the publishes above
            // was sent before its declare-ok, and the client dispatches frames in order.
            ch.queueDeclarePassive(queue);

            List<Return> got;
            synchronized (returns) {
                got = new ArrayList<>(returns);
                returns.clear();
            }
            Interop.checkEq(got.size(), 2, "number of basic.return frames");
            Return first = got.get(0);
            Interop.checkEq(first.getReplyCode(), 312, "first return's reply code");
            Interop.checkEq(first.getReplyText(), "NO_ROUTE", "first return's reply text");
            Interop.checkEq(first.getExchange(), "", "first return's exchange");
            Interop.checkEq(first.getRoutingKey(), missing, "first return's routing key");
            Interop.checkEq(Interop.text(first.getBody()), "to nowhere", "first returned body");
            AMQP.BasicProperties rp = first.getProperties();
            Interop.checkEq(rp.getMessageId(), "r-1", "returned message id");
            Interop.checkEq(rp.getContentType(), "text/plain", "returned content type");
            Interop.checkEq(rp.getHeaders().size(), 2, "returned header count");
            Interop.checkEq(String.valueOf(rp.getHeaders().get("why")), "no queue", "returned string header");
            Interop.checkEq(rp.getHeaders().get("n"), 7, "returned int header");
            Return second = got.get(1);
            Interop.checkEq(List.of(second.getReplyCode(), second.getReplyText(), second.getExchange(),
                    second.getRoutingKey(), Interop.text(second.getBody())),
                    List.of(312, "NO_ROUTE", exchange, "unbound", "unbound key"), "second return");
            // The routable mandatory message was delivered (the broker does not promise that a
            // passive declare already counts it, so wait for it as a consumer).
            LinkedBlockingQueue<String> delivered = new LinkedBlockingQueue<>();
            String ctag = ch.basicConsume(queue, true, (tag, d) -> delivered.add(Interop.text(d.getBody())), tag -> {});
            Interop.checkEq(delivered.poll(10, TimeUnit.SECONDS), "routable", "the routable mandatory message");
            ch.basicCancel(ctag);
            Interop.checkEq(delivered.poll(), null, "another message in the bound queue");

            // With confirms: returned, then acked; the return comes first.
            Channel cch = conn.createChannel();
            cch.confirmSelect();
            List<String> events = Collections.synchronizedList(new ArrayList<>());
            cch.addReturnListener(ret -> events.add("return " + ret.getReplyCode() + " " + Interop.text(ret.getBody())));
            cch.addConfirmListener((tag, multiple) -> events.add("ack " + tag + (multiple ? " multiple" : "")),
                    (tag, multiple) -> events.add("nack " + tag));
            cch.basicPublish(exchange, "unbound", true, null, Interop.utf8("confirm+return"));
            cch.waitForConfirmsOrDie(10_000);
            synchronized (events) {
                Interop.checkEq(events, List.of("return 312 confirm+return", "ack 1"), "return, then ack");
                events.clear();
            }
            cch.basicPublish(exchange, "bound", true, null, Interop.utf8("confirmed"));
            cch.basicPublish(exchange, "unbound", false, null, Interop.utf8("confirmed, dropped"));
            cch.waitForConfirmsOrDie(10_000);
            synchronized (events) {
                Interop.check(!events.isEmpty() && events.stream().allMatch(e -> e.startsWith("ack ")),
                        "only acks for a routable and a non-mandatory publish: " + events);
                Interop.check(events.contains("ack 3") || events.contains("ack 3 multiple"),
                        "the last publish is acked: " + events);
            }
            Interop.checkEq(cch.queueDeclarePassive(queue).getMessageCount(), 1, "messages after the confirmed publishes");

            // A missing exchange closes the channel with 404.
            String noExchange = Interop.unique("java.no-such-exchange");
            cch.basicPublish(noExchange, "k", null, Interop.utf8("x"));
            try {
                cch.waitForConfirmsOrDie(10_000);
                throw new AssertionError("publish to a missing exchange did not close the channel");
            } catch (ShutdownSignalException | IOException e) {
                ShutdownSignalException sse = e instanceof ShutdownSignalException
                        ? (ShutdownSignalException) e : (ShutdownSignalException) e.getCause();
                Interop.check(!sse.isHardError(), "a channel error, not a connection error: " + sse);
                AMQP.Channel.Close close = (AMQP.Channel.Close) sse.getReason();
                Interop.checkEq(close.getReplyCode(), 404, "reply code for a missing exchange");
                Interop.checkEq(close.getReplyText(),
                        "NOT_FOUND - no exchange '" + noExchange + "' in vhost '/'", "reply text");
            }
            Interop.check(!cch.isOpen(), "the channel is closed after the 404");
            Interop.check(ch.isOpen() && conn.isOpen(), "the other channel and the connection stay open");
            Interop.checkEq(returns, List.of(), "returns on the first channel since");
            Interop.checkEq(ch.queueDelete(queue).getMessageCount(), 1, "messages deleted with the queue");
            ch.exchangeDelete(exchange);
            cleanup.done();
        }
    }
}
