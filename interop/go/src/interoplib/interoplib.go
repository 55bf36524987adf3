// Package interoplib holds helpers shared by the Go interop scenarios: the broker URI,
// unique names, checks, a hang guard and best-effort cleanup when a scenario fails.
package interoplib

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// URI is the broker under test, from $AMQP_URI.
func URI() string {
	if u := os.Getenv("AMQP_URI"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/%2F"
}

// Dial connects to $AMQP_URI or fails the scenario.
func Dial() *amqp.Connection {
	conn, err := amqp.Dial(URI())
	Must(err, "dial")
	return conn
}

// Unique returns interop.<what>.<random>, a name no other run uses.
func Unique(what string) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "interop." + what + "." + hex.EncodeToString(b)
}

var (
	failOnce sync.Once
	cleanupM sync.Mutex
	cleanups []func()
)

// OnFail registers f to run (most recent first) when the scenario fails, e.g. to delete
// what it declared or to kill child processes. All of them together get at most 10 s.
func OnFail(f func()) {
	cleanupM.Lock()
	defer cleanupM.Unlock()
	cleanups = append(cleanups, f)
}

// DeleteOnFail makes a failing scenario delete these queues and exchanges (best effort,
// over a fresh connection), so durable leftovers do not pile up on a long-lived broker.
func DeleteOnFail(queues []string, exchanges []string) {
	OnFail(func() {
		conn, err := amqp.Dial(URI())
		if err != nil {
			return
		}
		defer conn.Close()
		for _, q := range queues {
			if ch, err := conn.Channel(); err == nil {
				ch.QueueDelete(q, false, false, false)
				ch.Close()
			}
		}
		for _, x := range exchanges {
			if ch, err := conn.Channel(); err == nil {
				ch.ExchangeDelete(x, false, false)
				ch.Close()
			}
		}
	})
}

// Fail ends the scenario with exit status 1, after running the OnFail cleanups.
func Fail(format string, args ...interface{}) {
	failOnce.Do(func() {
		fmt.Fprintf(os.Stderr, "FAILED: "+format+"\n", args...)
		cleanupM.Lock()
		todo := append([]func(){}, cleanups...)
		cleanupM.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := len(todo) - 1; i >= 0; i-- {
				todo[i]()
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			fmt.Fprintln(os.Stderr, "cleanup after the failure timed out")
		}
		os.Exit(1)
	})
	select {} // another goroutine is failing the scenario and exits the process
}

// Must fails the scenario if err is not nil.
func Must(err error, what string) {
	if err != nil {
		Fail("%s: %v", what, err)
	}
}

// Check fails the scenario unless cond holds.
func Check(cond bool, format string, args ...interface{}) {
	if !cond {
		Fail(format, args...)
	}
}

// CheckEq fails unless actual deep-equals expected.
func CheckEq(actual, expected interface{}, what string) {
	if !reflect.DeepEqual(actual, expected) {
		Fail("%s: expected %#v, got %#v", what, expected, actual)
	}
}

// Timeout is the hang guard for every wait.
const Timeout = 30 * time.Second

// After returns a channel that fires after Timeout.
func After() <-chan time.Time { return time.After(Timeout) }

// Context returns a context that ends after Timeout.
func Context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), Timeout)
}

// Depth returns the number of ready messages in queue (passive queue.declare).
func Depth(ch *amqp.Channel, queue string) int {
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	Must(err, "passive declare of "+queue)
	return q.Messages
}
