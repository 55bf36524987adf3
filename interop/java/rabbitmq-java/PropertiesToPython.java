import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import java.io.File;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Properties to Python (RabbitMQ's Java client): publishes ONE message with every basic
 * property and the canonical header set (a header of each AMQP field type this client can
 * encode) to a fresh durable queue, confirmed, then runs the Python checker
 * (cross/helpers/check_properties.py, pika/aiormq) on that queue and propagates its verdict.
 *
 * The client's field-table encoder picks the AMQP type from the Java class: String S,
 * Byte b, Short s, Integer I, Long l, Float f, Double d, BigDecimal D, Date T, Map F,
 * List A, byte[] x, Boolean t, null V. It has no unsigned types (B, u, i), so the u8, u16
 * and u32 headers are not sent and are passed to the checker with --skip.
 */
public class PropertiesToPython {
    static final String APP_ID = "interop-rabbitmq-java";
    /** Header keys whose AMQP types (unsigned integers) this client cannot encode. */
    static final List<String> SKIP = List.of("u8", "u16", "u32");

    public static void main(String[] args) {
        Interop.run("rabbitmq-java properties-to-python", PropertiesToPython::scenario);
    }

    static Map<String, Object> headers() {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("string", "h\u00e9llo, w\u00f6rld \u2713");
        h.put("empty_string", "");
        h.put("i8", (byte) -8);
        h.put("i16", (short) -1600);
        h.put("i32", -320000);
        h.put("i64", -6400000000L);
        h.put("f32", 1.5f);
        h.put("f64", 3.25d);
        h.put("decimal", new BigDecimal(BigInteger.valueOf(1234), 2));
        h.put("timestamp", new Date(1700000000L * 1000));
        h.put("bool_true", true);
        h.put("bool_false", false);
        h.put("bytes", new byte[] {0x00, 0x01, (byte) 0xfe, (byte) 0xff});
        h.put("void", null);
        Map<String, Object> table = new LinkedHashMap<>();
        table.put("nested", "yes");
        table.put("n", 7);
        h.put("table", table);
        h.put("array", Arrays.asList(1, "two", true));
        return h;
    }

    static void scenario() throws Exception {
        String queue = Interop.unique("java.properties");
        try (Interop.Cleanup cleanup = new Interop.Cleanup();
                Connection conn = Interop.factory().newConnection("interop-java-properties")) {
            Channel ch = conn.createChannel();
            ch.queueDeclare(cleanup.queue(queue), true, false, false, null);
            ch.confirmSelect();
            AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                    .contentType("application/json")
                    .contentEncoding("utf-8")
                    .deliveryMode(2)
                    .priority(5)
                    .correlationId("corr-7f3a")
                    .replyTo("interop.reply")
                    .expiration("600000")
                    .messageId("msg-0042")
                    .timestamp(new Date(1700000000L * 1000))
                    .type("order.created")
                    .userId(Interop.uriUser())
                    .appId(APP_ID)
                    .headers(headers())
                    .build();
            ch.basicPublish("", queue, props, "{\"order\": 42, \"note\": \"properties\"}".getBytes(StandardCharsets.UTF_8));
            ch.waitForConfirmsOrDie(10_000);
            Interop.checkEq(ch.queueDeclarePassive(queue).getMessageCount(), 1, "messages in the queue");

            String python = System.getenv().getOrDefault("INTEROP_PYTHON", "python3");
            String dir = System.getenv().getOrDefault("INTEROP_DIR", "../..");
            String checker = dir + File.separator + "cross" + File.separator + "helpers" + File.separator
                    + "check_properties.py";
            Process p = new ProcessBuilder(python, checker, "--queue", queue, "--app-id", APP_ID,
                    "--skip", String.join(",", SKIP))
                    .inheritIO()
                    .start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("the Python checker did not finish within 60 s");
            }
            Interop.checkEq(p.exitValue(), 0, "the Python checker's exit status");
            Interop.checkEq(ch.queueDelete(queue).getMessageCount(), 0, "messages left after the checker's get");
            cleanup.done();
        }
    }
}
