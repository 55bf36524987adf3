"""pika SelectConnection: mandatory publishing, basic.return, confirms, missing exchange.

- With `add_on_return_callback`, mandatory publishes to a queue name that does not exist
  (default exchange) and through a direct exchange with no matching binding come back as
  basic.return 312 NO_ROUTE with the exchange and routing key used, body and properties
  (message_id, headers, content_type) intact; checked after a passive declare on the same
  channel (returns precede its declare-ok);
- a mandatory routable publish is delivered (consumed from the bound queue) and not
  returned; a non-mandatory unroutable publish is dropped silently;
- on a confirm-mode channel an unroutable mandatory publish is returned and then acked
  (not nacked): the return callback runs before the ack callback;
- a publish to an exchange that does not exist makes the broker close that channel with
  404 NOT_FOUND (the channel's close callback gets ChannelClosedByBroker); the other
  channels stay open. Everything is deleted at the end.
"""

import pika
import pika.exceptions
from pika.spec import Basic

from interop_common import check, check_eq, main, unique
from pika_async import SelectScenario

EXCHANGE = unique("mandatory-ex")
QUEUE = unique("mandatory-q")
MISSING = unique("no-such-queue")


class MandatoryReturns(SelectScenario):
    def __init__(self):
        super().__init__()
        self.returns = []
        self.events = []

    def start(self):
        self.conn = self.connect(lambda conn: self.open_channel(conn, self.on_channel))

    def on_channel(self, ch):
        self.ch = ch
        ch.add_on_return_callback(self.cb(lambda _ch, method, props, body:
                                          self.returns.append((method, props, body))))
        self.chain([
            lambda cb: ch.exchange_declare(EXCHANGE, "direct", callback=cb),
            lambda cb: ch.queue_declare(QUEUE, callback=cb),
            lambda cb: ch.queue_bind(QUEUE, EXCHANGE, "bound", callback=cb),
        ], self.publish)

    def publish(self, _frames):
        ch = self.ch
        props = pika.BasicProperties(message_id="r-1", headers={"why": "no queue"},
                                     content_type="text/plain")
        ch.basic_publish("", MISSING, b"to nowhere", props, mandatory=True)
        ch.basic_publish(EXCHANGE, "unbound", b"unbound key", mandatory=True)
        ch.basic_publish(EXCHANGE, "bound", b"routable", mandatory=True)
        ch.basic_publish(EXCHANGE, "unbound", b"dropped quietly", mandatory=False)
        ch.queue_declare(QUEUE, passive=True, callback=self.cb(self.check_returns))

    def check_returns(self, _frame):
        check_eq(len(self.returns), 2, "basic.return frames")
        method, props, body = self.returns[0]
        check_eq((method.reply_code, method.reply_text, method.exchange, method.routing_key),
                 (312, "NO_ROUTE", "", MISSING), "first return")
        check_eq(body, b"to nowhere", "first returned body")
        check_eq((props.message_id, props.headers, props.content_type),
                 ("r-1", {"why": "no queue"}, "text/plain"), "first returned properties")
        method, _props, body = self.returns[1]
        check_eq((method.reply_code, method.exchange, method.routing_key, body),
                 (312, EXCHANGE, "unbound", b"unbound key"), "second return")
        self.ch.basic_consume(QUEUE, self.cb(self.on_routable), auto_ack=True)

    def on_routable(self, ch, method, _props, body):
        check_eq(body, b"routable", "the routable mandatory message")
        ch.basic_cancel(method.consumer_tag)
        self.open_channel(self.conn, self.on_confirm_channel)

    def on_confirm_channel(self, ch):
        ch.add_on_return_callback(self.cb(
            lambda _ch, method, _p, body: self.events.append(("return", method.reply_code,
                                                              body))))
        ch.confirm_delivery(self.cb(self.on_confirm), callback=self.cb(
            lambda _f: ch.basic_publish(EXCHANGE, "unbound", b"confirm+return",
                                        mandatory=True)))

    def on_confirm(self, frame):
        self.events.append(("ack" if isinstance(frame.method, Basic.Ack) else "nack",
                            frame.method.delivery_tag))
        check_eq(self.events, [("return", 312, b"confirm+return"), ("ack", 1)],
                 "return, then ack, for an unroutable mandatory publish with confirms")
        self.open_channel(self.conn, self.publish_to_missing_exchange, closing_ok=True)

    def publish_to_missing_exchange(self, ch):
        ch.add_on_close_callback(self.cb(self.on_doomed_closed))
        ch.basic_publish(unique("no-such-exchange"), "k", b"x")

    def on_doomed_closed(self, _ch, reason):
        check(isinstance(reason, pika.exceptions.ChannelClosedByBroker),
              "channel closed by %r" % (reason,))
        check_eq(reason.reply_code, 404, "reply code for a missing exchange")
        check(reason.reply_text.startswith("NOT_FOUND"), "reply text %r" % reason.reply_text)
        check(self.ch.is_open, "the other channel stays open")
        self.chain([
            lambda cb: self.ch.queue_delete(QUEUE, callback=cb),
            lambda cb: self.ch.exchange_delete(EXCHANGE, callback=cb),
        ], self.done)

    def done(self, frames):
        check_eq(frames[0].method.message_count, 0, "messages left in the bound queue")
        self.succeed()


if __name__ == "__main__":
    main(MandatoryReturns().run)
