// amqp091-go: heartbeats kept over an idle period, and a silent client dropped.
//
// Environment: INTEROP_HEARTBEAT (seconds requested, default 1) and INTEROP_IDLE_SECONDS
// (default 4).
//  1. DialConfig with amqp.Config{Heartbeat: INTEROP_HEARTBEAT}: the negotiated
//     Connection.Config.Heartbeat must equal the request. The program then sends nothing
//     itself for INTEROP_IDLE_SECONDS while the library heartbeats; the connection must not
//     be closed (NotifyClose stays quiet). amqp091-go sets a read deadline of three
//     half-intervals after every frame it reads, so this also shows that the broker sent
//     heartbeats all along. Afterwards a publish and a consume round trip still work.
//  2. A connection whose socket (Config.Dial returns a wrapped net.Conn) stops passing
//     the client's writes after the handshake, so no heartbeats reach the broker: the
//     broker must close it after missing heartbeats (NotifyClose fires; RabbitMQ needs
//     about two intervals).
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

func envSeconds(name string, def float64) float64 {
	if s := os.Getenv(name); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		interoplib.Must(err, name)
		return v
	}
	return def
}

// muteConn discards every write once muted: the client goes silent while still reading.
type muteConn struct {
	net.Conn
	muted *int32
}

func (c muteConn) Write(b []byte) (int, error) {
	if atomic.LoadInt32(c.muted) != 0 {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func keptAlive(heartbeat time.Duration, idle time.Duration) {
	conn, err := amqp.DialConfig(interoplib.URI(), amqp.Config{Heartbeat: heartbeat})
	interoplib.Must(err, "dial with heartbeat")
	defer conn.Close()
	interoplib.CheckEq(conn.Config.Heartbeat, heartbeat, "negotiated heartbeat")
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	ch, err := conn.Channel()
	interoplib.Must(err, "channel")
	q, err := ch.QueueDeclare("", false, false, true, false, nil)
	interoplib.Must(err, "declare")

	// The idle period: no traffic from the program, only the library's heartbeats.
	select {
	case e := <-closed:
		interoplib.Fail("connection closed during the idle period: %v", e)
	case <-time.After(idle):
	}
	interoplib.Check(!conn.IsClosed(), "connection closed after the idle period")

	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	interoplib.Must(err, "consume")
	ctx, cancel := interoplib.Context()
	defer cancel()
	interoplib.Must(ch.PublishWithContext(ctx, "", q.Name, false, false,
		amqp.Publishing{Body: []byte("still here")}), "publish after idling")
	select {
	case d := <-deliveries:
		interoplib.CheckEq(string(d.Body), "still here", "message after the idle period")
	case <-interoplib.After():
		interoplib.Fail("no delivery after the idle period")
	}
	_, err = ch.QueueDelete(q.Name, false, false, false)
	interoplib.Must(err, "delete")
	interoplib.Must(conn.Close(), "close")
}

func silentClientDropped(heartbeat time.Duration) {
	var muted int32
	dial := amqp.DefaultDial(30 * time.Second)
	conn, err := amqp.DialConfig(interoplib.URI(), amqp.Config{
		Heartbeat: heartbeat,
		Dial: func(network, addr string) (net.Conn, error) {
			c, err := dial(network, addr)
			if err != nil {
				return nil, err
			}
			return muteConn{c, &muted}, nil
		},
	})
	interoplib.Must(err, "dial the silent connection")
	defer conn.Close()
	interoplib.CheckEq(conn.Config.Heartbeat, heartbeat, "negotiated heartbeat")
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	atomic.StoreInt32(&muted, 1)
	start := time.Now()
	select {
	case e := <-closed:
		interoplib.Check(e != nil, "connection closed without an error")
		fmt.Printf("silent connection dropped by the broker after %.1fs: %v\n", time.Since(start).Seconds(), e)
	case <-time.After(4*heartbeat + 5*time.Second):
		interoplib.Fail("the broker kept a connection that sent no heartbeats for %v", time.Since(start))
	}
}

func main() {
	heartbeat := time.Duration(envSeconds("INTEROP_HEARTBEAT", 1)) * time.Second
	idle := time.Duration(envSeconds("INTEROP_IDLE_SECONDS", 4) * float64(time.Second))
	keptAlive(heartbeat, idle)
	silentClientDropped(heartbeat)
	fmt.Println("amqp091-go heartbeats: ok")
}
