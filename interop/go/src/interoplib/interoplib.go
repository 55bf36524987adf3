// Package interoplib holds helpers shared by the Go interop scenarios: the broker URI,
// unique names, checks and a hang guard.
package interoplib

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
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

// Fail ends the scenario with exit status 1.
func Fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAILED: "+format+"\n", args...)
	os.Exit(1)
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
