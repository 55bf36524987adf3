// amqp091-go: mandatory publishing with NotifyReturn. Unroutable mandatory messages come
// back (312 NO_ROUTE, body and properties intact) before their confirm; routable ones and
// non-mandatory unroutable ones do not; a missing exchange closes the channel with 404.
package main

import (
	"context"
	"fmt"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

func main() {
	conn := interoplib.Dial()
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, "channel")
	returns := ch.NotifyReturn(make(chan amqp.Return, 10))
	interoplib.Must(ch.Confirm(false), "confirm")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 10))

	exchange := interoplib.Unique("go.direct")
	interoplib.Must(ch.ExchangeDeclare(exchange, "direct", false, true, false, false, nil), "exchange declare")
	queue := interoplib.Unique("go.bound")
	_, err = ch.QueueDeclare(queue, false, true, false, false, nil)
	interoplib.Must(err, "queue declare")
	interoplib.Must(ch.QueueBind(queue, "bound", exchange, false, nil), "bind")

	ctx, cancel := context.WithTimeout(context.Background(), interoplib.Timeout)
	defer cancel()
	publish := func(key string, mandatory bool, body string) {
		interoplib.Must(ch.PublishWithContext(ctx, exchange, key, mandatory, false, amqp.Publishing{
			ContentType: "text/plain",
			MessageId:   body,
			Headers:     amqp.Table{"k": key},
			Body:        []byte(body),
		}), "publish "+body)
	}
	nextConfirm := func(tag uint64) {
		select {
		case c := <-confirms:
			interoplib.CheckEq(c.DeliveryTag, tag, "confirm tag")
			interoplib.Check(c.Ack, "publish %d nacked", tag)
		case <-interoplib.After():
			interoplib.Fail("no confirm %d", tag)
		}
	}

	publish("nowhere", true, "returned-1")
	// The return precedes the confirm on the wire; amqp091-go dispatches both.
	select {
	case r := <-returns:
		interoplib.CheckEq(r.ReplyCode, uint16(312), "reply code")
		interoplib.CheckEq(r.ReplyText, "NO_ROUTE", "reply text")
		interoplib.CheckEq(r.Exchange, exchange, "exchange")
		interoplib.CheckEq(r.RoutingKey, "nowhere", "routing key")
		interoplib.CheckEq(string(r.Body), "returned-1", "body")
		interoplib.CheckEq(r.ContentType, "text/plain", "content type")
		interoplib.CheckEq(r.MessageId, "returned-1", "message id")
		interoplib.CheckEq(r.Headers, amqp.Table{"k": "nowhere"}, "headers")
	case <-interoplib.After():
		interoplib.Fail("no return for an unroutable mandatory message")
	}
	nextConfirm(1)

	publish("bound", true, "routed")
	nextConfirm(2)
	publish("nowhere", false, "dropped")
	nextConfirm(3)
	publish("nowhere-2", true, "returned-2")
	select {
	case r := <-returns:
		interoplib.CheckEq(string(r.Body), "returned-2", "only mandatory unroutable messages return")
	case <-interoplib.After():
		interoplib.Fail("no second return")
	}
	nextConfirm(4)

	d, ok, err := ch.Get(queue, true)
	interoplib.Must(err, "get")
	interoplib.Check(ok, "the routed message is in its queue")
	interoplib.CheckEq(string(d.Body), "routed", "routed body")
	interoplib.CheckEq(d.MessageCount, uint32(0), "nothing else queued")

	// A missing exchange: channel closed with 404.
	bad, err := conn.Channel()
	interoplib.Must(err, "channel")
	closed := bad.NotifyClose(make(chan *amqp.Error, 1))
	missing := interoplib.Unique("go.missing")
	interoplib.Must(bad.PublishWithContext(ctx, missing, "k", true, false, amqp.Publishing{Body: []byte("x")}), "publish")
	select {
	case e := <-closed:
		interoplib.Check(e != nil, "closed without error")
		interoplib.CheckEq(e.Code, 404, "reply code")
		interoplib.CheckEq(e.Reason, fmt.Sprintf("NOT_FOUND - no exchange '%s' in vhost '/'", missing), "reply text")
	case <-interoplib.After():
		interoplib.Fail("no channel close for a missing exchange")
	}
	select {
	case r := <-returns:
		interoplib.Fail("unexpected return %q", r.Body)
	default:
	}

	_, err = ch.QueueDelete(queue, false, false, false)
	interoplib.Must(err, "queue delete")
	interoplib.Must(ch.ExchangeDelete(exchange, false, false), "exchange delete")
	fmt.Println("amqp091-go mandatory-return: ok")
}
