"""Small helpers shared by the Python interop scenarios.

Every scenario reads the broker address from the AMQP_URI environment variable, names what it
declares uniquely (so reruns against a long-lived broker never collide with leftovers) and
exits non-zero with a message when an expectation fails.
"""

import os
import sys
import threading
import time
import uuid

DEFAULT_URI = "amqp://guest:guest@127.0.0.1:5672/%2F"


def amqp_uri():
    """The broker under test, from $AMQP_URI."""
    return os.environ.get("AMQP_URI", DEFAULT_URI)


def uri_user():
    """The user name in $AMQP_URI (the identity the broker authenticates)."""
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(amqp_uri()).username or "guest")


def unique(prefix):
    """A name no earlier run has used: interop.<prefix>.<random>."""
    return "interop.%s.%s" % (prefix, uuid.uuid4().hex[:12])


def pika_params(**overrides):
    """pika.URLParameters for $AMQP_URI with optional attribute overrides."""
    import pika

    params = pika.URLParameters(amqp_uri())
    for key, value in overrides.items():
        setattr(params, key, value)
    return params


class ScenarioFailure(AssertionError):
    """An expectation about the broker's behaviour did not hold."""


def check(condition, message):
    """Fail the scenario with `message` unless `condition` holds."""
    if not condition:
        raise ScenarioFailure(message)


def check_eq(actual, expected, what):
    """Fail unless actual == expected, naming `what` and both values."""
    if actual != expected:
        raise ScenarioFailure("%s: expected %r, got %r" % (what, expected, actual))


class Deadline:
    """A hang guard: remaining() seconds until `seconds` from now, expired() after."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def remaining(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end


def wait_event(event, seconds, what):
    """Wait for a threading.Event with a hang guard; fail naming `what` on timeout."""
    if not event.wait(seconds):
        raise ScenarioFailure("timed out after %ss waiting for %s" % (seconds, what))


class Worker(threading.Thread):
    """A thread that records the exception its target raised, re-raised by join_checked()."""

    def __init__(self, target, *args, name=None):
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self._args = args
        self.error = None
        self.result = None

    def run(self):
        try:
            self.result = self._target_fn(*self._args)
        except BaseException as exc:  # noqa: BLE001 - reported by join_checked
            self.error = exc

    def wait_ready(self, event, seconds):
        """Wait for `event` (set by the target once it is ready); fail early if the thread died."""
        deadline = Deadline(seconds)
        while not event.wait(min(0.05, deadline.remaining())):
            if not self.is_alive():
                if self.error is not None:
                    raise self.error
                raise ScenarioFailure("thread %s ended before it was ready" % self.name)
            if deadline.expired():
                raise ScenarioFailure("thread %s not ready after %ss" % (self.name, seconds))

    def join_checked(self, seconds):
        self.join(seconds)
        if self.is_alive():
            raise ScenarioFailure("thread %s still running after %ss" % (self.name, seconds))
        if self.error is not None:
            raise self.error
        return self.result


def main_async(coroutine_fn, seconds):
    """main() for an asyncio scenario: run coroutine_fn() on a new event loop, failing the
    scenario if it takes longer than `seconds`."""
    import asyncio

    main(lambda: asyncio.run(asyncio.wait_for(coroutine_fn(), seconds)))


def main(fn):
    """Run a scenario's entry point: exit 0 on success, 1 with a message on failure."""
    try:
        fn()
    except ScenarioFailure as exc:
        print("FAILED: %s" % exc, file=sys.stderr)
        sys.exit(1)
    print("ok")
    sys.exit(0)
