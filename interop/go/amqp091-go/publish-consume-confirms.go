// amqp091-go: Confirm + NotifyPublish for 300 persistent publishes (every tag acked, in
// order), then Consume with Qos and manual acks (a Nack with
// requeue coming back redelivered), properties and headers checked, queue empty.
package main

import (
	"context"
	"fmt"
	"time"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

const count = 300

func main() {
	conn := interoplib.Dial()
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, "channel")

	queue := interoplib.Unique("go.confirms")
	interoplib.DeleteOnFail([]string{queue}, nil)
	q, err := ch.QueueDeclare(queue, true, false, false, false, nil)
	interoplib.Must(err, "queue declare")
	interoplib.CheckEq(q.Name, queue, "declared name")
	interoplib.CheckEq(q.Messages, 0, "new queue depth")

	interoplib.Must(ch.Confirm(false), "confirm.select")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, count+10))

	ctx, cancel := context.WithTimeout(context.Background(), interoplib.Timeout)
	defer cancel()
	stamp := time.Unix(time.Now().Unix(), 0)
	for i := 0; i < count; i++ {
		err := ch.PublishWithContext(ctx, "", queue, false, false, amqp.Publishing{
			ContentType:   "text/plain",
			DeliveryMode:  amqp.Persistent,
			Priority:      4,
			CorrelationId: fmt.Sprintf("c-%d", i),
			MessageId:     fmt.Sprintf("m-%d", i),
			Timestamp:     stamp,
			AppId:         "amqp091-go",
			Headers:       amqp.Table{"seq": int32(i), "name": fmt.Sprintf("go-%d", i), "even": i%2 == 0},
			Body:          []byte(fmt.Sprintf("message %d", i)),
		})
		interoplib.Must(err, "publish")
	}
	for i := 1; i <= count; i++ {
		select {
		case c := <-confirms:
			interoplib.CheckEq(c.DeliveryTag, uint64(i), "confirm tag (NotifyPublish delivers them in order)")
			interoplib.Check(c.Ack, "publish %d nacked", i)
		case <-interoplib.After():
			interoplib.Fail("timed out waiting for confirm %d", i)
		}
	}

	// One more publish, a transient one, confirmed through the same listener. (Not with
	// PublishWithDeferredConfirm: in amqp091-go 1.5.0 it registers the deferred
	// confirmation only after sending the publish, so a fast ack can be missed and Wait
	// blocks until the context ends; this happens against RabbitMQ too.)
	interoplib.Must(ch.PublishWithContext(ctx, "", queue, false, false,
		amqp.Publishing{Body: []byte("deferred")}), "last publish")
	select {
	case c := <-confirms:
		interoplib.CheckEq(c.DeliveryTag, uint64(count+1), "last confirm tag")
		interoplib.Check(c.Ack, "last publish nacked")
	case <-interoplib.After():
		interoplib.Fail("timed out waiting for the last confirm")
	}

	q, err = ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	interoplib.Must(err, "passive declare")
	interoplib.CheckEq(q.Messages, count+1, "queue depth after confirms")

	cch, err := conn.Channel()
	interoplib.Must(err, "consumer channel")
	interoplib.Must(cch.Qos(25, 0, false), "qos")
	deliveries, err := cch.Consume(queue, "go-consumer", false, false, false, false, nil)
	interoplib.Must(err, "consume")

	next := 0
	nacked := false
	redelivered := false
	settled := 0
	for settled < count+1 {
		var d amqp.Delivery
		select {
		case d = <-deliveries:
		case <-interoplib.After():
			interoplib.Fail("timed out after %d deliveries", settled)
		}
		interoplib.CheckEq(d.ConsumerTag, "go-consumer", "consumer tag")
		if string(d.Body) == "deferred" {
			interoplib.CheckEq(next, count, "the deferred message comes last")
			interoplib.Must(d.Ack(false), "ack")
			settled++
			continue
		}
		var n int
		_, err := fmt.Sscanf(string(d.Body), "message %d", &n)
		interoplib.Must(err, "body "+string(d.Body))
		interoplib.CheckEq(d.ContentType, "text/plain", "content type")
		interoplib.CheckEq(d.DeliveryMode, uint8(amqp.Persistent), "delivery mode")
		interoplib.CheckEq(d.Priority, uint8(4), "priority")
		interoplib.CheckEq(d.CorrelationId, fmt.Sprintf("c-%d", n), "correlation id")
		interoplib.CheckEq(d.MessageId, fmt.Sprintf("m-%d", n), "message id")
		interoplib.Check(d.Timestamp.Equal(stamp), "timestamp %v != %v", d.Timestamp, stamp)
		interoplib.CheckEq(d.AppId, "amqp091-go", "app id")
		interoplib.CheckEq(d.Headers, amqp.Table{"seq": int32(n), "name": fmt.Sprintf("go-%d", n), "even": n%2 == 0}, "headers")
		if d.Redelivered {
			interoplib.CheckEq(n, 5, "only the nacked message is redelivered")
			interoplib.Check(!redelivered, "redelivered once")
			redelivered = true
			interoplib.Must(d.Ack(false), "ack")
			settled++
			continue
		}
		interoplib.CheckEq(n, next, "first deliveries in publish order")
		next++
		if n == 5 && !nacked {
			nacked = true
			interoplib.Must(d.Nack(false, true), "nack")
			continue
		}
		interoplib.Must(d.Ack(false), "ack")
		settled++
	}
	interoplib.Check(redelivered, "the nacked message came back")
	interoplib.Must(cch.Cancel("go-consumer", false), "cancel")
	left, err := ch.QueueDelete(queue, false, false, false)
	interoplib.Must(err, "queue delete")
	interoplib.CheckEq(left, 0, "queue empty at the end")
	fmt.Println("amqp091-go publish-consume-confirms: ok")
}
