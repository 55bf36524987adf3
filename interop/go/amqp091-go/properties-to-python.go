// amqp091-go: the canonical property and header set, published by Go and checked by Python.
//
// One message with every basic property and a header of every AMQP field type is
// published with a confirm (acked) to a fresh durable queue through the default
// exchange; then interop/cross/helpers/check_properties.py (pika's reading of it) compares
// the body, every property and every header, and its exit status is this program's.
//
// amqp091-go 1.5's field encoder (writeField) maps bool t, byte/uint8 B, int8 b, int16 s,
// int and int32 I, int64 l, float32 f, float64 d, Decimal D, string S, []interface{} A,
// time.Time T, Table F, []byte x and nil V. It has no case for uint16 or uint32 (Table
// validation rejects them), so u16 (60000) goes out as int32 (I) and u32 (4000000000) as
// int64 (l): the checker compares decoded values, so nothing needs skipping.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

func main() {
	python, dir := os.Getenv("INTEROP_PYTHON"), os.Getenv("INTEROP_DIR")
	interoplib.Check(python != "" && dir != "", "INTEROP_PYTHON and INTEROP_DIR must be set (run.sh exports them)")
	uri, err := amqp.ParseURI(interoplib.URI())
	interoplib.Must(err, "parse AMQP_URI")

	conn := interoplib.Dial()
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, "channel")
	queue := interoplib.Unique("go.properties")
	interoplib.DeleteOnFail([]string{queue}, nil)
	_, err = ch.QueueDeclare(queue, true, false, false, false, nil)
	interoplib.Must(err, "declare")
	interoplib.Must(ch.Confirm(false), "confirm.select")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 1))

	headers := amqp.Table{
		"string":       "héllo, wörld ✓",
		"empty_string": "",
		"i8":           int8(-8),
		"u8":           uint8(200),
		"i16":          int16(-1600),
		"u16":          int32(60000), // no uint16 encoding in amqp091-go: sent as I
		"i32":          int32(-320000),
		"u32":          int64(4000000000), // no uint32 encoding in amqp091-go: sent as l
		"i64":          int64(-6400000000),
		"f32":          float32(1.5),
		"f64":          float64(3.25),
		"decimal":      amqp.Decimal{Scale: 2, Value: 1234},
		"timestamp":    time.Unix(1700000000, 0),
		"bool_true":    true,
		"bool_false":   false,
		"bytes":        []byte{0x00, 0x01, 0xfe, 0xff},
		"void":         nil,
		"table":        amqp.Table{"nested": "yes", "n": int32(7)},
		"array":        []interface{}{int32(1), "two", true},
	}
	interoplib.Must(headers.Validate(), "headers validate")
	ctx, cancel := interoplib.Context()
	defer cancel()
	interoplib.Must(ch.PublishWithContext(ctx, "", queue, false, false, amqp.Publishing{
		Headers:         headers,
		ContentType:     "application/json",
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp.Persistent,
		Priority:        5,
		CorrelationId:   "corr-7f3a",
		ReplyTo:         "interop.reply",
		Expiration:      "600000",
		MessageId:       "msg-0042",
		Timestamp:       time.Unix(1700000000, 0),
		Type:            "order.created",
		UserId:          uri.Username,
		AppId:           "interop-amqp091-go",
		Body:            []byte(`{"order": 42, "note": "properties"}`),
	}), "publish")
	select {
	case c := <-confirms:
		interoplib.Check(c.Ack, "publish nacked")
	case <-interoplib.After():
		interoplib.Fail("timed out waiting for the confirm")
	}

	checker := exec.Command(python, filepath.Join(dir, "cross", "helpers", "check_properties.py"),
		"--queue", queue, "--app-id", "interop-amqp091-go")
	checker.Stdout, checker.Stderr = os.Stdout, os.Stderr
	checker.Env = append(os.Environ(), "AMQP_URI="+interoplib.URI())
	exited := make(chan error, 1)
	interoplib.Must(checker.Start(), "start the Python checker")
	go func() { exited <- checker.Wait() }()
	var checkErr error
	select {
	case checkErr = <-exited:
	case <-time.After(interoplib.Timeout):
		checker.Process.Kill()
		interoplib.Fail("the Python checker did not finish")
	}

	_, err = ch.QueueDelete(queue, false, false, false)
	interoplib.Must(err, "delete")
	if exitErr, ok := checkErr.(*exec.ExitError); ok {
		fmt.Fprintf(os.Stderr, "FAILED: check_properties.py exited with %d\n", exitErr.ExitCode())
		os.Exit(exitErr.ExitCode())
	}
	interoplib.Must(checkErr, "run the Python checker")
	fmt.Println("amqp091-go properties-to-python: ok")
}
