// amqp091-go: tutorial 6 RPC. A server goroutine on its own connection (Qos 1, manual
// acks) answers fib(n) to ReplyTo with the CorrelationId; the client uses an exclusive
// server-named callback queue, sequential and 30 concurrent calls, and checks that the
// callback queue disappears with its connection (404 afterwards).
package main

import (
	"context"
	"fmt"
	"strconv"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

func fib(n int) int {
	a, b := 0, 1
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	return a
}

func serve(conn *amqp.Connection, queue string, done chan<- []int) {
	ch, err := conn.Channel()
	interoplib.Must(err, "server channel")
	interoplib.Must(ch.Qos(1, 0, false), "qos")
	msgs, err := ch.Consume(queue, "rpc-server", false, false, false, false, nil)
	interoplib.Must(err, "server consume")
	var served []int
	for d := range msgs { // ends when the queue is deleted (basic.cancel from the broker)
		n, err := strconv.Atoi(string(d.Body))
		interoplib.Must(err, "request body")
		err = ch.PublishWithContext(context.Background(), "", d.ReplyTo, false, false, amqp.Publishing{
			ContentType:   "text/plain",
			CorrelationId: d.CorrelationId,
			Body:          []byte(strconv.Itoa(fib(n))),
		})
		interoplib.Must(err, "reply")
		interoplib.Must(d.Ack(false), "ack")
		served = append(served, n)
	}
	done <- served
}

func main() {
	serverConn := interoplib.Dial()
	defer serverConn.Close()
	admin, err := serverConn.Channel()
	interoplib.Must(err, "channel")
	rpcQueue := interoplib.Unique("go.rpc")
	interoplib.DeleteOnFail([]string{rpcQueue}, nil)
	_, err = admin.QueueDeclare(rpcQueue, false, false, false, false, nil)
	interoplib.Must(err, "rpc queue declare")
	done := make(chan []int, 1)
	go serve(serverConn, rpcQueue, done)

	client := interoplib.Dial()
	ch, err := client.Channel()
	interoplib.Must(err, "client channel")
	callback, err := ch.QueueDeclare("", false, false, true, false, nil)
	interoplib.Must(err, "callback declare")
	replies, err := ch.Consume(callback.Name, "", true, false, false, false, nil)
	interoplib.Must(err, "callback consume")

	ctx, cancel := context.WithTimeout(context.Background(), interoplib.Timeout)
	defer cancel()
	call := func(n int, id string) {
		interoplib.Must(ch.PublishWithContext(ctx, "", rpcQueue, false, false, amqp.Publishing{
			ContentType:   "text/plain",
			CorrelationId: id,
			ReplyTo:       callback.Name,
			Body:          []byte(strconv.Itoa(n)),
		}), "request")
	}
	var sent []int
	for _, n := range []int{0, 1, 2, 20, 40} {
		id := fmt.Sprintf("seq-%d", n)
		call(n, id)
		sent = append(sent, n)
		select {
		case d := <-replies:
			interoplib.CheckEq(d.CorrelationId, id, "correlation id")
			interoplib.CheckEq(string(d.Body), strconv.Itoa(fib(n)), "fib")
		case <-interoplib.After():
			interoplib.Fail("no reply to %s", id)
		}
	}
	pending := map[string]int{}
	for i := 0; i < 30; i++ {
		id := fmt.Sprintf("batch-%d", i)
		call(i, id)
		sent = append(sent, i)
		pending[id] = i
	}
	for len(pending) > 0 {
		select {
		case d := <-replies:
			n, ok := pending[d.CorrelationId]
			interoplib.Check(ok, "unknown or duplicate reply %q", d.CorrelationId)
			delete(pending, d.CorrelationId)
			interoplib.CheckEq(string(d.Body), strconv.Itoa(fib(n)), "fib")
		case <-interoplib.After():
			interoplib.Fail("missing replies: %v", pending)
		}
	}
	interoplib.Must(client.Close(), "client close")

	probe, err := serverConn.Channel()
	interoplib.Must(err, "probe channel")
	_, err = probe.QueueDeclarePassive(callback.Name, false, false, true, false, nil)
	interoplib.Check(err != nil, "the exclusive callback queue outlived its connection")
	interoplib.CheckEq(err.(*amqp.Error).Code, 404, "passive declare of the gone callback queue")

	left, err := admin.QueueDelete(rpcQueue, false, false, false)
	interoplib.Must(err, "queue delete")
	interoplib.CheckEq(left, 0, "rpc queue empty")
	select {
	case served := <-done:
		interoplib.CheckEq(served, sent, "requests served once each, in order")
	case <-interoplib.After():
		interoplib.Fail("the server's delivery channel did not close after the queue was deleted")
	}
	fmt.Println("amqp091-go rpc: ok")
}
