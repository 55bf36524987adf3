import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultSaslConfig;
import com.rabbitmq.client.GetResponse;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * RabbitMQ's Java client over amqps://: PLAIN with the server verified against the test CA,
 * then SASL EXTERNAL with a client certificate (CN=guest); each makes a round trip through a
 * queue.
 */
public class TlsPlainAndExternal {
    static Path dir() {
        return Paths.get(System.getenv("INTEROP_TLS_DIR"));
    }

    static Certificate cert(String file) throws Exception {
        try (InputStream in = Files.newInputStream(dir().resolve(file))) {
            return CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    static PrivateKey key(String file) throws Exception {
        String pem = Files.readString(dir().resolve(file));
        String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64));
        return KeyFactory.getInstance("EC").generatePrivate(spec);
    }

    static SSLContext context(boolean withCertificate) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("ca", cert("ca.pem"));
        TrustManagerFactory tmf =
                TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        KeyManager[] keys = null;
        if (withCertificate) {
            char[] password = "interop".toCharArray();
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            store.setKeyEntry(
                    "client", key("client-key.pem"), password, new Certificate[] {cert("client.pem")});
            KeyManagerFactory kmf =
                    KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(store, password);
            keys = kmf.getKeyManagers();
        }
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(keys, tmf.getTrustManagers(), null);
        return context;
    }

    static void roundTrip(ConnectionFactory factory, String label) throws Exception {
        try (Connection conn = factory.newConnection();
                Channel ch = conn.createChannel()) {
            String q = Interop.unique("java.tls-" + label);
            ch.queueDeclare(q, false, false, true, null);
            ch.confirmSelect();
            ch.basicPublish("", q, null, label.getBytes(StandardCharsets.UTF_8));
            ch.waitForConfirmsOrDie(10_000);
            GetResponse got = ch.basicGet(q, true);
            Interop.check(
                    got != null && new String(got.getBody(), StandardCharsets.UTF_8).equals(label),
                    label + ": the message makes a round trip");
            ch.queueDelete(q);
        }
    }

    public static void main(String[] args) throws Exception {
        String uri = System.getenv("AMQPS_URI");
        ConnectionFactory plain = new ConnectionFactory();
        plain.setUri(uri);
        plain.useSslProtocol(context(false));
        roundTrip(plain, "plain");

        ConnectionFactory external = new ConnectionFactory();
        external.setUri(uri);
        external.useSslProtocol(context(true));
        external.setSaslConfig(DefaultSaslConfig.EXTERNAL);
        roundTrip(external, "external");
        System.out.println("ok");
    }
}
