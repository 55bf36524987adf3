// amqp091-go: a topic exchange with tutorial 5's bindings; one consumer per queue
// (exclusive server-named queues, auto-ack) must receive exactly the matching keys, in
// publish order, and nothing else; an internal exchange refuses direct publishes (403).
package main

import (
	"context"
	"fmt"
	"reflect"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

var keys = []string{
	"quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox", "lazy.brown.fox",
	"lazy.pink.rabbit", "quick.brown.fox", "orange", "quick.orange.male.rabbit",
	"lazy.orange.male.rabbit", "lazy", "a.orange.b.rabbit",
}

func main() {
	conn := interoplib.Dial()
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, "channel")
	exchange := interoplib.Unique("go.topic")
	interoplib.DeleteOnFail(nil, []string{exchange})
	interoplib.Must(ch.ExchangeDeclare(exchange, "topic", false, false, false, false, nil), "exchange declare")

	plan := []struct {
		bindings []string
		expected []string
	}{
		{[]string{"*.orange.*"}, []string{"quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox"}},
		{[]string{"*.*.rabbit", "lazy.#"}, []string{"quick.orange.rabbit", "lazy.orange.elephant", "lazy.brown.fox",
			"lazy.pink.rabbit", "lazy.orange.male.rabbit", "lazy"}},
		{[]string{"#.orange.#.rabbit"}, []string{"quick.orange.rabbit", "quick.orange.male.rabbit",
			"lazy.orange.male.rabbit", "a.orange.b.rabbit"}},
	}
	streams := make([]<-chan amqp.Delivery, len(plan))
	for i, p := range plan {
		q, err := ch.QueueDeclare("", false, false, true, false, nil)
		interoplib.Must(err, "queue declare")
		interoplib.Check(len(q.Name) > 8 && q.Name[:8] == "amq.gen-", "server-named queue %q", q.Name)
		for _, b := range p.bindings {
			interoplib.Must(ch.QueueBind(q.Name, b, exchange, false, nil), "bind")
		}
		streams[i], err = ch.Consume(q.Name, "", true, true, false, false, nil)
		interoplib.Must(err, "consume")
	}

	ctx, cancel := context.WithTimeout(context.Background(), interoplib.Timeout)
	defer cancel()
	for _, k := range keys {
		interoplib.Must(ch.PublishWithContext(ctx, exchange, k, false, false, amqp.Publishing{Body: []byte(k)}), "publish")
	}
	// A marker matching every queue's bindings: anything unexpected would arrive before it.
	interoplib.Must(ch.PublishWithContext(ctx, exchange, "quick.orange.rabbit", false, false,
		amqp.Publishing{Body: []byte("END")}), "publish marker")
	for i, p := range plan {
		var got []string
		for {
			var d amqp.Delivery
			select {
			case d = <-streams[i]:
			case <-interoplib.After():
				interoplib.Fail("queue %d: timed out with %v", i, got)
			}
			interoplib.CheckEq(d.Exchange, exchange, "exchange")
			if string(d.Body) == "END" {
				break
			}
			interoplib.CheckEq(d.RoutingKey, string(d.Body), "routing key")
			got = append(got, string(d.Body))
		}
		interoplib.Check(reflect.DeepEqual(got, p.expected), "queue %d: expected %v, got %v", i, p.expected, got)
	}

	// An internal exchange cannot be published to directly: 403 ACCESS_REFUSED.
	ch2, err := conn.Channel()
	interoplib.Must(err, "channel")
	internal := interoplib.Unique("go.internal")
	interoplib.Must(ch2.ExchangeDeclare(internal, "fanout", false, true, true, false, nil), "internal declare")
	closed := ch2.NotifyClose(make(chan *amqp.Error, 1))
	interoplib.Must(ch2.PublishWithContext(ctx, internal, "", false, false, amqp.Publishing{Body: []byte("x")}), "publish")
	select {
	case e := <-closed:
		interoplib.Check(e != nil, "channel closed without an error")
		interoplib.CheckEq(e.Code, 403, "reply code")
		interoplib.CheckEq(e.Reason, fmt.Sprintf("ACCESS_REFUSED - cannot publish to internal exchange '%s' in vhost '/'", internal), "reply text")
	case <-interoplib.After():
		interoplib.Fail("no channel close after publishing to an internal exchange")
	}

	ch3, err := conn.Channel()
	interoplib.Must(err, "channel")
	interoplib.Must(ch3.ExchangeDelete(internal, false, false), "exchange delete")
	interoplib.Must(ch3.ExchangeDelete(exchange, false, false), "exchange delete")
	fmt.Println("amqp091-go topic-routing: ok")
}
