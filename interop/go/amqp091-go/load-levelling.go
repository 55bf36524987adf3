// amqp091-go: load levelling. A burst of INTEROP_BURST (default 100000) small messages
// (body: 8-byte sequence number and padding) is published through a direct exchange,
// alternating between keys q0 and q1 (one durable queue each), while nobody consumes.
// The channel then enters confirm mode and publishes an "end" marker to each queue; once
// both are acked, each queue must hold exactly half the burst plus its marker (passive
// declare). Each queue is then drained by its own consumer (Qos(1000), acks with
// multiple=true every 100): every message once, strictly in publish order, none
// redelivered, the marker last; both queues end empty. (Confirming every publish of the
// burst works too, but made RabbitMQ 3.10 take 6-7 s instead of about 1 s for the burst
// on the busy 2-core test machine.)
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"time"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

func main() {
	burst := 100000
	if s := os.Getenv("INTEROP_BURST"); s != "" {
		n, err := strconv.Atoi(s)
		interoplib.Must(err, "INTEROP_BURST")
		burst = n
	}
	interoplib.Check(burst > 0 && burst%2 == 0, "INTEROP_BURST must be even and positive")
	half := burst / 2

	conn := interoplib.Dial()
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, "channel")
	exchange := interoplib.Unique("go.levelling")
	queues := []string{interoplib.Unique("go.levelling-q0"), interoplib.Unique("go.levelling-q1")}
	interoplib.DeleteOnFail(queues, []string{exchange})
	interoplib.Must(ch.ExchangeDeclare(exchange, "direct", true, false, false, false, nil), "exchange declare")
	for i, q := range queues {
		_, err := ch.QueueDeclare(q, true, false, false, false, nil)
		interoplib.Must(err, "declare "+q)
		interoplib.Must(ch.QueueBind(q, fmt.Sprintf("q%d", i), exchange, false, nil), "bind "+q)
	}

	// The burst, unconfirmed (fast), then the channel switches to confirm mode and sends
	// one marker to each queue: once both markers are acked, every earlier publish on the
	// channel has been enqueued.
	pch, err := conn.Channel()
	interoplib.Must(err, "publisher channel")
	start := time.Now()
	padding := make([]byte, 32)
	for i := 0; i < burst; i++ {
		body := make([]byte, 8+len(padding))
		binary.BigEndian.PutUint64(body, uint64(i))
		copy(body[8:], padding)
		// The context only bounds deferred confirmations, which are not used here.
		interoplib.Must(pch.PublishWithContext(context.Background(), exchange, fmt.Sprintf("q%d", i%2), false, false,
			amqp.Publishing{Body: body}), "publish")
	}
	interoplib.Must(pch.Confirm(false), "confirm.select")
	confirms := pch.NotifyPublish(make(chan amqp.Confirmation, 2))
	ctx, cancel := interoplib.Context()
	defer cancel()
	for i := range queues {
		interoplib.Must(pch.PublishWithContext(ctx, exchange, fmt.Sprintf("q%d", i), false, false,
			amqp.Publishing{Body: []byte("end")}), "publish marker")
	}
	for i := 1; i <= len(queues); i++ {
		select {
		case c := <-confirms:
			interoplib.CheckEq(c.DeliveryTag, uint64(i), "marker confirm tag")
			interoplib.Check(c.Ack, "marker %d nacked", i)
		case <-time.After(60 * time.Second):
			interoplib.Fail("timed out waiting for the markers' confirms")
		}
	}
	fmt.Printf("burst of %d published, markers confirmed in %.1fs\n", burst, time.Since(start).Seconds())
	for _, q := range queues {
		interoplib.CheckEq(interoplib.Depth(ch, q), half+1, "depth of "+q+" after the burst and its marker")
	}

	// Drain both queues at once, each on its own channel.
	drained := make(chan int, 2)
	for i, q := range queues {
		go func(i int, q string) {
			cch, err := conn.Channel()
			interoplib.Must(err, "consumer channel")
			interoplib.Must(cch.Qos(1000, 0, false), "qos")
			tag := fmt.Sprintf("drain-%d", i)
			deliveries, err := cch.Consume(q, tag, false, false, false, false, nil)
			interoplib.Must(err, "consume "+q)
			deadline := time.After(60 * time.Second)
			for n := 0; n <= half; n++ {
				select {
				case d := <-deliveries:
					if n == half {
						interoplib.CheckEq(string(d.Body), "end", q+": the marker comes last")
						interoplib.Must(d.Ack(true), "multiple ack")
						continue
					}
					interoplib.CheckEq(len(d.Body), 8+len(padding), "body length")
					seq := int(binary.BigEndian.Uint64(d.Body))
					interoplib.Check(seq == 2*n+i, "%s out of order: got %d, expected %d", q, seq, 2*n+i)
					interoplib.Check(!d.Redelivered, "message %d flagged redelivered", seq)
					if (n+1)%100 == 0 {
						interoplib.Must(d.Ack(true), "multiple ack")
					}
				case <-deadline:
					interoplib.Fail("timed out draining %s after %d messages", q, n)
				}
			}
			interoplib.Must(cch.Cancel(tag, false), "cancel")
			interoplib.Must(cch.Close(), "consumer channel close")
			drained <- i
		}(i, q)
	}
	for range queues {
		select {
		case <-drained:
		case <-time.After(70 * time.Second):
			interoplib.Fail("timed out waiting for the consumers")
		}
	}
	for _, q := range queues {
		interoplib.CheckEq(interoplib.Depth(ch, q), 0, "messages left in "+q)
		_, err := ch.QueueDelete(q, false, false, false)
		interoplib.Must(err, "delete "+q)
	}
	interoplib.Must(ch.ExchangeDelete(exchange, false, false), "delete exchange")
	fmt.Printf("amqp091-go load-levelling: %d messages queued and drained in %.1fs\n", burst, time.Since(start).Seconds())
}
