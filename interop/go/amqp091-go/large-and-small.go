// amqp091-go: one 16 MiB body and 10,000 small ones through the same queue.
//
// A 16 MiB body of random bytes is published with a confirm (acked) and consumed back
// (manual ack); its SHA-256 and length must match. Then 10,000 messages of lengths 0..100
// bytes (i % 101, so several empty bodies) with content derived from their index are
// published with confirms (all acked, NotifyPublish) and consumed back (Qos(500)) in
// order with exact bodies and message ids; the queue ends empty.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

const (
	largeSize = 16 << 20
	small     = 10000
)

func smallBody(i int) []byte {
	b := make([]byte, i%101)
	for j := range b {
		b[j] = byte(i*31 + j*7)
	}
	return b
}

func awaitConfirms(confirms <-chan amqp.Confirmation, first, n int) {
	deadline := time.After(interoplib.Timeout)
	for i := first; i < first+n; i++ {
		select {
		case c := <-confirms:
			interoplib.CheckEq(c.DeliveryTag, uint64(i), "confirm tag")
			interoplib.Check(c.Ack, "publish %d nacked", i)
		case <-deadline:
			interoplib.Fail("timed out waiting for confirm %d", i)
		}
	}
}

func main() {
	conn := interoplib.Dial()
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, "channel")
	queue := interoplib.Unique("go.sizes")
	interoplib.DeleteOnFail([]string{queue}, nil)
	_, err = ch.QueueDeclare(queue, false, false, false, false, nil)
	interoplib.Must(err, "declare")
	interoplib.Must(ch.Confirm(false), "confirm.select")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 1000))
	ctx, cancel := interoplib.Context()
	defer cancel()

	large := make([]byte, largeSize)
	_, err = rand.Read(large)
	interoplib.Must(err, "random body")
	sum := sha256.Sum256(large)
	interoplib.Must(ch.PublishWithContext(ctx, "", queue, false, false, amqp.Publishing{
		ContentType: "application/octet-stream",
		MessageId:   "large",
		Body:        large,
	}), "publish 16 MiB")
	awaitConfirms(confirms, 1, 1)

	cch, err := conn.Channel()
	interoplib.Must(err, "consumer channel")
	interoplib.Must(cch.Qos(500, 0, false), "qos")
	deliveries, err := cch.Consume(queue, "sizes", false, false, false, false, nil)
	interoplib.Must(err, "consume")
	select {
	case d := <-deliveries:
		interoplib.CheckEq(d.MessageId, "large", "message id of the large message")
		interoplib.CheckEq(len(d.Body), largeSize, "large body length")
		interoplib.Check(sha256.Sum256(d.Body) == sum, "SHA-256 of the 16 MiB body differs")
		interoplib.Must(d.Ack(false), "ack large")
	case <-interoplib.After():
		interoplib.Fail("timed out waiting for the 16 MiB message")
	}

	// The confirms are read while publishing: NotifyPublish blocks the connection's
	// reader when its buffer is full.
	done := make(chan struct{})
	go func() {
		awaitConfirms(confirms, 2, small)
		close(done)
	}()
	for i := 0; i < small; i++ {
		interoplib.Must(ch.PublishWithContext(ctx, "", queue, false, false, amqp.Publishing{
			MessageId: strconv.Itoa(i),
			Body:      smallBody(i),
		}), "publish small")
	}
	deadline := time.After(interoplib.Timeout)
	for i := 0; i < small; i++ {
		select {
		case d := <-deliveries:
			interoplib.CheckEq(d.MessageId, strconv.Itoa(i), "message id (publish order)")
			interoplib.Check(bytes.Equal(d.Body, smallBody(i)), "body of message %d: got %d bytes %x", i, len(d.Body), d.Body)
			if i%50 == 49 || i == small-1 {
				interoplib.Must(d.Ack(true), "multiple ack")
			}
		case <-deadline:
			interoplib.Fail("timed out after %d small messages", i)
		}
	}
	select {
	case <-done:
	case <-interoplib.After():
		interoplib.Fail("timed out waiting for the confirms")
	}
	interoplib.Must(cch.Cancel("sizes", false), "cancel")
	interoplib.Must(cch.Close(), "close consumer channel")
	interoplib.CheckEq(interoplib.Depth(ch, queue), 0, "messages left")
	_, err = ch.QueueDelete(queue, false, false, false)
	interoplib.Must(err, "delete")
	fmt.Println("amqp091-go large-and-small: ok")
}
