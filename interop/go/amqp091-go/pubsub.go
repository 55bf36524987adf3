// amqp091-go: publish/subscribe through a fanout and a headers exchange.
//
// Fanout: three subscribers, each on its own channel with an exclusive server-named queue
// (amq.gen- prefix) bound to a fanout exchange and its own consumer; 100 messages and an
// end marker are published: each subscriber gets all 100 in order, then the marker, and
// nothing else.
// Headers: queue A bound with x-match=all {format: pdf, type: report}, queue B with
// x-match=any {format: zip, type: log}; six messages with different header sets are
// published with confirms, then each queue is read with basic.get until empty: A holds
// exactly {pdf,report} and {pdf,report,extra}, B exactly {pdf,log} and {zip}, in order.
package main

import (
	"fmt"
	"strings"
	"time"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

const messages = 100

func fanout(conn *amqp.Connection) {
	ch, err := conn.Channel()
	interoplib.Must(err, "channel")
	exchange := interoplib.Unique("go.fanout")
	interoplib.DeleteOnFail(nil, []string{exchange})
	interoplib.Must(ch.ExchangeDeclare(exchange, "fanout", false, false, false, false, nil), "fanout declare")

	type subscriber struct {
		ch         *amqp.Channel
		queue      string
		deliveries <-chan amqp.Delivery
	}
	var subs []subscriber
	for i := 0; i < 3; i++ {
		sch, err := conn.Channel()
		interoplib.Must(err, "subscriber channel")
		q, err := sch.QueueDeclare("", false, false, true, false, nil)
		interoplib.Must(err, "server-named queue")
		interoplib.Check(strings.HasPrefix(q.Name, "amq.gen-"), "server-named queue %q lacks the amq.gen- prefix", q.Name)
		interoplib.Must(sch.QueueBind(q.Name, "", exchange, false, nil), "bind")
		d, err := sch.Consume(q.Name, fmt.Sprintf("sub-%d", i), false, true, false, false, nil)
		interoplib.Must(err, "consume")
		subs = append(subs, subscriber{sch, q.Name, d})
	}

	ctx, cancel := interoplib.Context()
	defer cancel()
	for i := 0; i <= messages; i++ {
		body := fmt.Sprintf("news %d", i)
		if i == messages {
			body = "end"
		}
		interoplib.Must(ch.PublishWithContext(ctx, exchange, fmt.Sprintf("ignored.%d", i), false, false, amqp.Publishing{
			ContentType: "text/plain",
			Body:        []byte(body),
		}), "publish")
	}
	for s, sub := range subs {
		deadline := time.After(interoplib.Timeout)
		for i := 0; i <= messages; i++ {
			want := fmt.Sprintf("news %d", i)
			if i == messages {
				want = "end"
			}
			select {
			case d := <-sub.deliveries:
				interoplib.CheckEq(string(d.Body), want, fmt.Sprintf("subscriber %d message %d", s, i))
				interoplib.CheckEq(d.Exchange, exchange, "exchange")
				interoplib.CheckEq(d.RoutingKey, fmt.Sprintf("ignored.%d", i), "routing key")
				interoplib.Check(!d.Redelivered, "redelivered flag")
				interoplib.Must(d.Ack(false), "ack")
			case <-deadline:
				interoplib.Fail("subscriber %d timed out waiting for %q", s, want)
			}
		}
		interoplib.Must(sub.ch.Cancel(fmt.Sprintf("sub-%d", s), false), "cancel")
		interoplib.CheckEq(interoplib.Depth(sub.ch, sub.queue), 0, "subscriber queue after the marker")
		// Exclusive: it would go with the connection; deleted here explicitly.
		_, err := sub.ch.QueueDelete(sub.queue, false, false, false)
		interoplib.Must(err, "delete subscriber queue")
		interoplib.Must(sub.ch.Close(), "close subscriber channel")
	}
	interoplib.Must(ch.ExchangeDelete(exchange, false, false), "delete fanout")
	interoplib.Must(ch.Close(), "close channel")
}

func headers(conn *amqp.Connection) {
	ch, err := conn.Channel()
	interoplib.Must(err, "channel")
	exchange := interoplib.Unique("go.headers")
	qa, qb := interoplib.Unique("go.headers-all"), interoplib.Unique("go.headers-any")
	interoplib.DeleteOnFail([]string{qa, qb}, []string{exchange})
	interoplib.Must(ch.ExchangeDeclare(exchange, "headers", false, false, false, false, nil), "headers declare")
	for _, q := range []string{qa, qb} {
		_, err := ch.QueueDeclare(q, false, false, false, false, nil)
		interoplib.Must(err, "declare "+q)
	}
	interoplib.Must(ch.QueueBind(qa, "", exchange, false,
		amqp.Table{"x-match": "all", "format": "pdf", "type": "report"}), "bind all")
	interoplib.Must(ch.QueueBind(qb, "", exchange, false,
		amqp.Table{"x-match": "any", "format": "zip", "type": "log"}), "bind any")

	interoplib.Must(ch.Confirm(false), "confirm.select")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 10))
	cases := []struct {
		body    string
		headers amqp.Table
	}{
		{"pdf-report", amqp.Table{"format": "pdf", "type": "report"}},
		{"pdf-log", amqp.Table{"format": "pdf", "type": "log"}},
		{"zip", amqp.Table{"format": "zip"}},
		{"pdf", amqp.Table{"format": "pdf"}},
		{"pdf-report-extra", amqp.Table{"format": "pdf", "type": "report", "extra": int32(1)}},
		{"no-headers", nil},
	}
	ctx, cancel := interoplib.Context()
	defer cancel()
	for _, c := range cases {
		interoplib.Must(ch.PublishWithContext(ctx, exchange, "", false, false, amqp.Publishing{
			Headers: c.headers,
			Body:    []byte(c.body),
		}), "publish "+c.body)
	}
	for i := range cases {
		select {
		case c := <-confirms:
			interoplib.Check(c.Ack, "publish %d nacked", i)
		case <-interoplib.After():
			interoplib.Fail("timed out waiting for confirm %d", i)
		}
	}
	// Every message is routed once its confirm is back: read each queue until empty.
	drain := func(q string) []string {
		var got []string
		for {
			d, ok, err := ch.Get(q, true)
			interoplib.Must(err, "get from "+q)
			if !ok {
				return got
			}
			got = append(got, string(d.Body))
		}
	}
	interoplib.CheckEq(drain(qa), []string{"pdf-report", "pdf-report-extra"}, "x-match=all queue")
	interoplib.CheckEq(drain(qb), []string{"pdf-log", "zip"}, "x-match=any queue")
	for _, q := range []string{qa, qb} {
		left, err := ch.QueueDelete(q, false, false, false)
		interoplib.Must(err, "delete "+q)
		interoplib.CheckEq(left, 0, "messages left in "+q)
	}
	interoplib.Must(ch.ExchangeDelete(exchange, false, false), "delete headers exchange")
}

func main() {
	conn := interoplib.Dial()
	defer conn.Close()
	fanout(conn)
	headers(conn)
	fmt.Println("amqp091-go pubsub: ok")
}
