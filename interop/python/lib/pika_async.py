"""Helpers for the scenarios written against pika's asynchronous adapters.

SelectScenario: the skeleton of a SelectConnection program (callback style, as pika's
asynchronous examples are written): one IOLoop shared by any number of connections, a
hang guard, and failure handling: the scenario calls `succeed()` at its end, and `run()`
fails unless it got there. pika catches and logs exceptions raised in callbacks and
carries on, so a failed check would otherwise leave the loop running: every callback a
scenario registers goes through `self.cb(fn)`, which turns an exception into a recorded
failure and stops the loop.

AsyncioPika: pika's AsyncioConnection bridged to coroutines: `await self.call(fn, ...)`
runs a pika method that takes `callback=` and returns what the callback got, bounded by a
timeout and failing fast if the channel or connection closes meanwhile; `confirms()` puts
a channel in confirm mode (AsyncConfirms: `published()` per publish, `await wait(n)`);
`consume()` feeds deliveries into an asyncio.Queue read with `await next(queue)`.
"""

import asyncio
import functools
import traceback

import pika
import pika.exceptions
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.adapters.select_connection import IOLoop
from pika.spec import Basic

from confirm_tracker import ConfirmTracker
from interop_common import ScenarioFailure, pika_params


class SelectScenario:
    TIMEOUT = 60

    def __init__(self):
        self.ioloop = IOLoop()
        self.error = None
        self.connections = []
        self.finished = False
        self.succeeded = False

    # -- subclasses implement start() and call succeed() at the end -----------------------
    def start(self):
        raise NotImplementedError

    def cb(self, fn):
        """Wrap a callback: an exception in it fails the scenario instead of being logged."""

        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            if self.error is not None:
                return None
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - becomes the scenario's failure
                detail = str(exc) if isinstance(exc, ScenarioFailure) else \
                    "".join(traceback.format_exception(exc)).rstrip()
                self.fail(detail)
                return None

        return guarded

    def connect(self, on_open, **overrides):
        """Open a SelectConnection on the shared IOLoop; on_open(connection) when ready."""
        connection = pika.SelectConnection(
            pika_params(**overrides),
            on_open_callback=self.cb(on_open),
            on_open_error_callback=lambda _c, err: self.fail("connection failed: %r" % err),
            on_close_callback=self._on_connection_closed,
            custom_ioloop=self.ioloop,
        )
        self.connections.append(connection)
        return connection

    def open_channel(self, connection, on_open, closing_ok=False):
        """Open a channel; a broker close fails the scenario unless closing_ok."""

        def opened(channel):
            if not closing_ok:
                channel.add_on_close_callback(self._on_channel_closed)
            on_open(channel)

        return connection.channel(on_open_callback=self.cb(opened))

    def chain(self, steps, then):
        """Run callback-taking steps one after another: each step is fn(callback); the
        frame each callback receives is collected and then(frames) runs after the last."""
        frames = []

        def run(i, *received):
            if i > 0:
                frames.append(received[-1] if received else None)
            if i == len(steps):
                then(frames)
            else:
                steps[i](self.cb(functools.partial(run, i + 1)))

        self.cb(run)(0)

    def _on_channel_closed(self, channel, reason):
        # Closes the program asked for (channel or connection close) are not failures.
        if not self.finished and not isinstance(reason, pika.exceptions.ChannelClosedByClient) \
                and not getattr(channel.connection, "closing_expected", False):
            self.fail("channel %d closed: %r" % (channel.channel_number, reason))

    def _on_connection_closed(self, connection, reason):
        if not self.finished and not getattr(connection, "closing_expected", False):
            self.fail("connection closed: %r" % (reason,))
        self._stop_when_all_closed()

    def close(self, connection):
        """Close one connection on purpose (not a failure)."""
        connection.closing_expected = True
        if connection.is_open:
            connection.close()

    def fail(self, message):
        if self.error is None:
            self.error = message
        self.finish()

    def succeed(self):
        """The scenario reached its end with every check passed: close down."""
        self.succeeded = True
        self.finish()

    def finish(self):
        """Done (or failed): close every connection, then stop the loop."""
        self.finished = True
        for connection in self.connections:
            if connection.is_open:
                connection.close()
        self._stop_when_all_closed()

    def _stop_when_all_closed(self):
        if self.finished and all(c.is_closed for c in self.connections):
            self.ioloop.stop()

    def run(self):
        """Run the scenario to completion; raise ScenarioFailure if it failed or stopped
        before succeed()."""
        timer = self.ioloop.call_later(
            self.TIMEOUT, lambda: self.fail("timed out after %ss" % self.TIMEOUT))
        self.ioloop.add_callback_threadsafe(self.cb(self.start))
        self.ioloop.start()
        self.ioloop.remove_timeout(timer)
        self.ioloop.close()
        if self.error is not None:
            raise ScenarioFailure(self.error)
        if not self.succeeded:
            raise ScenarioFailure("the scenario did not reach its end")


class AsyncioPika:
    """pika's AsyncioConnection from coroutines (one instance per asyncio program)."""

    def __init__(self, timeout=30):
        self.loop = asyncio.get_running_loop()
        self.timeout = timeout

    async def connect(self, **overrides):
        fut = self.loop.create_future()

        def on_error(_conn, err):
            if not fut.done():
                fut.set_exception(ScenarioFailure("connection failed: %r" % (err,)))

        def on_closed(conn, reason):
            for waiter in list(conn.interop_waiters):
                if not waiter.done():
                    waiter.set_exception(ScenarioFailure("connection closed: %r" % (reason,)))

        conn = AsyncioConnection(
            pika_params(**overrides),
            on_open_callback=lambda c: fut.done() or fut.set_result(c),
            on_open_error_callback=on_error, on_close_callback=on_closed,
            custom_ioloop=self.loop)
        conn.interop_waiters = set()
        return await asyncio.wait_for(fut, self.timeout)

    async def channel(self, conn):
        fut = self.loop.create_future()
        conn.channel(on_open_callback=lambda ch: fut.done() or fut.set_result(ch))
        channel = await asyncio.wait_for(fut, self.timeout)
        channel.interop_waiters = set()
        channel.close_reason = None

        def on_closed(ch, reason):
            ch.close_reason = reason
            for waiter in list(ch.interop_waiters):
                if not waiter.done():
                    waiter.set_exception(reason if isinstance(reason, Exception)
                                         else ScenarioFailure("channel closed: %r" % (reason,)))

        channel.add_on_close_callback(on_closed)
        return channel

    async def call(self, method, *args, **kwargs):
        """Call a pika method taking `callback=`, await what the callback receives."""
        owner = getattr(method, "__self__", None)
        fut = self.loop.create_future()

        def done(*results):
            if not fut.done():
                fut.set_result(results[-1] if results else None)

        waiters = getattr(owner, "interop_waiters", None)
        if waiters is not None:
            waiters.add(fut)
        try:
            method(*args, callback=done, **kwargs)
            return await asyncio.wait_for(fut, self.timeout)
        finally:
            if waiters is not None:
                waiters.discard(fut)

    async def confirms(self, channel):
        """Put the channel in confirm mode; returns an AsyncConfirms tracking its publishes."""
        tracker = AsyncConfirms()
        await self.call(channel.confirm_delivery, tracker.on_frame)
        return tracker

    async def consume(self, channel, queue, auto_ack=False, **kwargs):
        """basic.consume into an asyncio.Queue of (method, properties, body); returns
        (consumer_tag, queue) once the broker's consume-ok is in."""
        deliveries = asyncio.Queue()
        frame = await self.call(
            channel.basic_consume, queue,
            lambda _ch, method, props, body: deliveries.put_nowait((method, props, body)),
            auto_ack=auto_ack, **kwargs)
        return frame.method.consumer_tag, deliveries

    async def next(self, deliveries, what="a delivery"):
        """The next (method, properties, body) from a consume() queue, bounded."""
        try:
            return await asyncio.wait_for(deliveries.get(), self.timeout)
        except asyncio.TimeoutError:
            raise ScenarioFailure("no %s within %ss" % (what, self.timeout)) from None

    async def close(self, conn):
        if conn.is_closed:
            return
        fut = self.loop.create_future()
        conn.add_on_close_callback(lambda _c, reason: fut.done() or fut.set_result(reason))
        if not conn.is_closing:
            conn.close()
        await asyncio.wait_for(fut, self.timeout)


class AsyncConfirms(ConfirmTracker):
    """ConfirmTracker fed by pika's ack/nack callback; `await wait(n)` until at most n
    publishes are unconfirmed. Call published() after each basic_publish."""

    def __init__(self):
        super().__init__()
        self.changed = asyncio.Event()

    def on_frame(self, frame):
        m = frame.method
        self.settle(m.delivery_tag, m.multiple, isinstance(m, Basic.Ack))
        self.changed.set()

    async def wait(self, outstanding=0, timeout=30):
        deadline = asyncio.get_running_loop().time() + timeout
        while self.outstanding > outstanding:
            self.changed.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.001, remaining))
            except asyncio.TimeoutError:
                raise ScenarioFailure("%d publishes unconfirmed after %ss"
                                      % (self.outstanding, timeout)) from None
