// amqp091-go: an order pipeline over a durable topic exchange.
//
// The order API publishes 300 persistent orders ("order.created.<eu|us|ap>", JSON body)
// with publisher confirms (NotifyPublish, all acked). Three services, each on its own
// connection with Qos(10) and manual acks, have their own durable queue: inventory
// ("order.created.*") and e-mail ("order.#") ack every order; payment ("order.created.*",
// x-dead-letter-exchange = a fanout DLX feeding a durable "rejected" queue) rejects the
// orders with id % 7 == 3 without requeue, and rejects order 0 once with requeue (it must
// come back redelivered and is then completed).
// Checks: inventory and e-mail saw every id exactly once; payment completed exactly the
// other ids, once each (order 0 delivered twice); "rejected" receives exactly the failing
// ids in order, each with x-death[0] = {queue: payment, reason: rejected, count: 1,
// exchange: orders, routing-keys: [original key]}; every queue ends empty.
package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

const orders = 300

var regions = []string{"eu", "us", "ap"}

type order struct {
	ID     int    `json:"id"`
	Region string `json:"region"`
}

func failing(id int) bool { return id%7 == 3 }

// service consumes queue on its own connection until it has settled want deliveries,
// calling handle for each (which acks or rejects), then closes its channel (so anything
// delivered beyond want would be requeued and show up in the final depth check).
func service(name, queue string, want int, handle func(d amqp.Delivery, o order), done chan<- string) {
	conn := interoplib.Dial()
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, name+" channel")
	interoplib.Must(ch.Qos(10, 0, false), name+" qos")
	deliveries, err := ch.Consume(queue, name, false, false, false, false, nil)
	interoplib.Must(err, name+" consume")
	deadline := time.After(interoplib.Timeout)
	for n := 0; n < want; n++ {
		select {
		case d, ok := <-deliveries:
			interoplib.Check(ok, "%s: delivery channel closed after %d deliveries", name, n)
			var o order
			interoplib.Must(json.Unmarshal(d.Body, &o), name+": order body "+string(d.Body))
			interoplib.CheckEq(d.MessageId, fmt.Sprintf("order-%d", o.ID), name+": message id")
			interoplib.CheckEq(d.DeliveryMode, uint8(amqp.Persistent), name+": delivery mode")
			interoplib.CheckEq(d.RoutingKey, "order.created."+o.Region, name+": routing key")
			handle(d, o)
		case <-deadline:
			interoplib.Fail("%s: timed out after %d of %d deliveries", name, n, want)
		}
	}
	interoplib.Must(ch.Close(), name+" channel close")
	done <- name
}

func main() {
	conn := interoplib.Dial()
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, "channel")

	exchange := interoplib.Unique("go.orders")
	dlx := interoplib.Unique("go.orders-dlx")
	q := map[string]string{}
	for _, name := range []string{"inventory", "payment", "email", "rejected"} {
		q[name] = interoplib.Unique("go.orders-" + name)
	}
	interoplib.DeleteOnFail([]string{q["inventory"], q["payment"], q["email"], q["rejected"]},
		[]string{exchange, dlx})

	interoplib.Must(ch.ExchangeDeclare(exchange, "topic", true, false, false, false, nil), "orders exchange")
	interoplib.Must(ch.ExchangeDeclare(dlx, "fanout", true, false, false, false, nil), "dead-letter exchange")
	declare := func(queue string, args amqp.Table, exchange, key string) {
		_, err := ch.QueueDeclare(queue, true, false, false, false, args)
		interoplib.Must(err, "declare "+queue)
		interoplib.Must(ch.QueueBind(queue, key, exchange, false, nil), "bind "+queue)
	}
	declare(q["inventory"], nil, exchange, "order.created.*")
	declare(q["payment"], amqp.Table{"x-dead-letter-exchange": dlx}, exchange, "order.created.*")
	declare(q["email"], nil, exchange, "order.#")
	declare(q["rejected"], nil, dlx, "")

	var valid, bad []int
	for i := 0; i < orders; i++ {
		if failing(i) {
			bad = append(bad, i)
		} else {
			valid = append(valid, i)
		}
	}

	var m sync.Mutex
	seen := map[string][]int{}
	var completed, redelivered []int
	record := func(name string, id int) {
		m.Lock()
		defer m.Unlock()
		seen[name] = append(seen[name], id)
	}
	ackAll := func(name string) func(d amqp.Delivery, o order) {
		return func(d amqp.Delivery, o order) {
			interoplib.Check(!d.Redelivered, "%s: order %d flagged redelivered", name, o.ID)
			record(name, o.ID)
			interoplib.Must(d.Ack(false), name+" ack")
		}
	}
	payment := func(d amqp.Delivery, o order) {
		record("payment", o.ID)
		if d.Redelivered {
			interoplib.CheckEq(o.ID, 0, "the only order redelivered to payment")
			m.Lock()
			redelivered = append(redelivered, o.ID)
			m.Unlock()
		}
		switch {
		case failing(o.ID):
			interoplib.Must(d.Reject(false), "payment reject")
		case o.ID == 0 && !d.Redelivered:
			interoplib.Must(d.Reject(true), "payment reject with requeue")
		default:
			m.Lock()
			completed = append(completed, o.ID)
			m.Unlock()
			interoplib.Must(d.Ack(false), "payment ack")
		}
	}

	done := make(chan string, 3)
	go service("inventory", q["inventory"], orders, ackAll("inventory"), done)
	go service("email", q["email"], orders, ackAll("email"), done)
	go service("payment", q["payment"], orders+1, payment, done)

	// The dead-lettered orders, consumed here as they arrive.
	rch, err := conn.Channel()
	interoplib.Must(err, "rejected channel")
	rejected, err := rch.Consume(q["rejected"], "rejected", false, false, false, false, nil)
	interoplib.Must(err, "consume rejected")

	// The order API: 300 persistent orders with confirms.
	pch, err := conn.Channel()
	interoplib.Must(err, "publisher channel")
	interoplib.Must(pch.Confirm(false), "confirm.select")
	confirms := pch.NotifyPublish(make(chan amqp.Confirmation, orders))
	ctx, cancel := interoplib.Context()
	defer cancel()
	for i := 0; i < orders; i++ {
		o := order{ID: i, Region: regions[i%3]}
		body, err := json.Marshal(o)
		interoplib.Must(err, "marshal")
		interoplib.Must(pch.PublishWithContext(ctx, exchange, "order.created."+o.Region, false, false, amqp.Publishing{
			ContentType:  "application/json",
			DeliveryMode: amqp.Persistent,
			MessageId:    fmt.Sprintf("order-%d", i),
			Body:         body,
		}), "publish order")
	}
	for i := 1; i <= orders; i++ {
		select {
		case c := <-confirms:
			interoplib.CheckEq(c.DeliveryTag, uint64(i), "confirm tag")
			interoplib.Check(c.Ack, "order %d nacked", i-1)
		case <-interoplib.After():
			interoplib.Fail("timed out waiting for confirm %d", i)
		}
	}

	var dead []int
	deadline := time.After(interoplib.Timeout)
	for len(dead) < len(bad) {
		select {
		case d := <-rejected:
			var o order
			interoplib.Must(json.Unmarshal(d.Body, &o), "rejected body")
			dead = append(dead, o.ID)
			interoplib.CheckEq(d.MessageId, fmt.Sprintf("order-%d", o.ID), "dead-lettered message id")
			deaths, ok := d.Headers["x-death"].([]interface{})
			interoplib.Check(ok && len(deaths) >= 1, "x-death header missing or not an array: %#v", d.Headers["x-death"])
			death, ok := deaths[0].(amqp.Table)
			interoplib.Check(ok, "x-death[0] is not a table: %#v", deaths[0])
			interoplib.CheckEq(death["queue"], q["payment"], "x-death queue")
			interoplib.CheckEq(death["reason"], "rejected", "x-death reason")
			interoplib.CheckEq(death["exchange"], exchange, "x-death exchange")
			interoplib.CheckEq(death["routing-keys"], []interface{}{"order.created." + o.Region}, "x-death routing keys")
			count := reflect.ValueOf(death["count"])
			interoplib.Check(count.Kind() >= reflect.Int && count.Kind() <= reflect.Int64 && count.Int() == 1,
				"x-death count: expected integer 1, got %#v", death["count"])
			interoplib.Must(d.Ack(false), "ack rejected")
		case <-deadline:
			interoplib.Fail("timed out: %d of %d dead-lettered orders arrived", len(dead), len(bad))
		}
	}
	interoplib.CheckEq(dead, bad, "dead-lettered orders, in order")

	for i := 0; i < 3; i++ {
		select {
		case <-done:
		case <-interoplib.After():
			interoplib.Fail("timed out waiting for the services")
		}
	}
	sorted := func(ids []int) []int {
		out := append([]int{}, ids...)
		sort.Ints(out)
		return out
	}
	all := make([]int, orders)
	for i := range all {
		all[i] = i
	}
	m.Lock()
	interoplib.CheckEq(sorted(seen["inventory"]), all, "orders seen by inventory (each exactly once)")
	interoplib.CheckEq(sorted(seen["email"]), all, "orders seen by e-mail (each exactly once)")
	interoplib.CheckEq(sorted(seen["payment"]), append([]int{0}, all...), "deliveries to payment (order 0 twice)")
	interoplib.CheckEq(sorted(completed), valid, "payments completed (each exactly once)")
	interoplib.CheckEq(redelivered, []int{0}, "orders redelivered to payment")
	m.Unlock()

	interoplib.Must(rch.Cancel("rejected", false), "cancel rejected consumer")
	for _, name := range []string{"inventory", "payment", "email", "rejected"} {
		interoplib.CheckEq(interoplib.Depth(ch, q[name]), 0, "messages left in "+name)
		left, err := ch.QueueDelete(q[name], false, false, false)
		interoplib.Must(err, "delete "+name)
		interoplib.CheckEq(left, 0, "messages deleted with "+name)
	}
	interoplib.Must(ch.ExchangeDelete(exchange, false, false), "delete orders exchange")
	interoplib.Must(ch.ExchangeDelete(dlx, false, false), "delete dead-letter exchange")
	fmt.Printf("amqp091-go order-pipeline: %d orders, %d paid, %d dead-lettered\n", orders, len(valid), len(bad))
}
