// amqp091-go over amqps://: PLAIN with the server verified against the test CA, then SASL
// EXTERNAL with a client certificate (CN=guest); each makes a round trip through a queue.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"time"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

func roundTrip(conn *amqp.Connection, label string) {
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, label+": channel")
	q := interoplib.Unique("go.tls-" + label)
	_, err = ch.QueueDeclare(q, false, true, false, false, nil)
	interoplib.Must(err, label+": queue declare")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	interoplib.Must(ch.PublishWithContext(ctx, "", q, false, false,
		amqp.Publishing{Body: []byte(label)}), label+": publish")
	for {
		msg, ok, err := ch.Get(q, true)
		interoplib.Must(err, label+": get")
		if ok {
			if string(msg.Body) != label {
				interoplib.Fail("%s: got %q", label, msg.Body)
			}
			break
		}
	}
	_, err = ch.QueueDelete(q, false, false, false)
	interoplib.Must(err, label+": queue delete")
}

func main() {
	dir := os.Getenv("INTEROP_TLS_DIR")
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	interoplib.Must(err, "read ca.pem")
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		interoplib.Fail("no certificate in ca.pem")
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"))
	interoplib.Must(err, "client certificate")
	uri := os.Getenv("AMQPS_URI")

	plain, err := amqp.DialTLS(uri, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	interoplib.Must(err, "dial with PLAIN")
	roundTrip(plain, "plain")

	withCert := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	external, err := amqp.DialTLS_ExternalAuth(uri, withCert)
	interoplib.Must(err, "dial with EXTERNAL")
	roundTrip(external, "external")
}
