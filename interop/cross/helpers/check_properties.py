"""Checks one message carrying the canonical property and header set, read with pika.

Used by the `properties-to-python` scenarios of the non-Python families: each publishes one
message with every basic property and a header of every AMQP field type it can encode
(interop/README.md, "Cross-language"), then runs

    check_properties.py --queue Q --app-id interop-<client> [--skip key,key]

with AMQP_URI set. This program basic.gets exactly one message from Q with pika, compares
the body, every property and every header value with the expectations below (written
independently of any publisher), prints each difference and exits 0 when there is none,
1 otherwise. `--skip` names header keys (or property names) the publishing client cannot
express; they must then be absent. The queue must hold nothing else.
"""

import argparse
import asyncio
import datetime
import decimal
import os
import sys

import aiormq
import pamqp.commands

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "lib"))

from interop_common import amqp_uri, uri_user  # noqa: E402

BODY = b'{"order": 42, "note": "properties"}'
TIMESTAMP = 1700000000

# Header key -> (AMQP field type the publisher should use, value as pika decodes it).
HEADERS = {
    "string": ("S", "h\u00e9llo, w\u00f6rld \u2713"),
    "empty_string": ("S", ""),
    "i8": ("b", -8),
    "u8": ("B", 200),
    "i16": ("s", -1600),
    "u16": ("u", 60000),
    "i32": ("I", -320000),
    "u32": ("i", 4000000000),
    "i64": ("l", -6400000000),
    "f32": ("f", 1.5),
    "f64": ("d", 3.25),
    "decimal": ("D", decimal.Decimal("12.34")),
    "timestamp": ("T", datetime.datetime.fromtimestamp(TIMESTAMP, datetime.timezone.utc)),
    "bool_true": ("t", True),
    "bool_false": ("t", False),
    "bytes": ("x", b"\x00\x01\xfe\xff"),
    "void": ("V", None),
    "table": ("F", {"nested": "yes", "n": 7}),
    "array": ("A", [1, "two", True]),
}


def expected_properties(app_id):
    return {
        "content_type": "application/json",
        "content_encoding": "utf-8",
        "delivery_mode": 2,
        "priority": 5,
        "correlation_id": "corr-7f3a",
        "reply_to": "interop.reply",
        "expiration": "600000",
        "message_id": "msg-0042",
        "timestamp": TIMESTAMP,
        "type": "order.created",
        "user_id": uri_user(),
        "app_id": app_id,
    }

# Property names that pamqp spells differently.
PAMQP_NAMES = {"type": "message_type"}


def normalise(value):
    """A decoded value in a comparable form: timestamps as aware UTC datetimes, byte
    arrays as bytes, and the same inside tables and arrays."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def same(actual, expected):
    """Equal values of the same kind (True is not 1, 1.0 is not 1, b"x" is not "x")."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and actual.keys() == expected.keys()
                and all(same(actual[k], expected[k]) for k in expected))
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(same(a, e) for a, e in zip(actual, expected)))
    if isinstance(expected, int):
        return isinstance(actual, int) and not isinstance(actual, bool) and actual == expected
    if isinstance(expected, float):
        return type(actual) is float and actual == expected
    return type(actual) is type(expected) and actual == expected


def compare(body, props, app_id, skip):
    problems = []
    if body != BODY:
        problems.append("body: got %r, want %r" % (body, BODY))
    for name, want in expected_properties(app_id).items():
        got = getattr(props, PAMQP_NAMES.get(name, name))
        if name == "timestamp" and isinstance(got, datetime.datetime):
            got = int(normalise(got).timestamp())
        if name in skip:
            if got is not None:
                problems.append("property %s: skipped but present (%r)" % (name, got))
        elif not same(got, want):
            problems.append("property %s: got %r, want %r" % (name, got, want))
    headers = {k: normalise(v) for k, v in (props.headers or {}).items()}
    for key, (kind, want) in HEADERS.items():
        if key in skip:
            if key in headers:
                problems.append("header %s: skipped but present (%r)" % (key, headers[key]))
            continue
        if key not in headers:
            problems.append("header %s (%s): missing" % (key, kind))
        elif not same(headers[key], want):
            problems.append("header %s (%s): got %r, want %r" % (key, kind, headers[key], want))
    for key in sorted(set(headers) - set(HEADERS)):
        problems.append("header %s: unexpected (%r)" % (key, headers[key]))
    return problems


async def fetch_and_compare(queue, app_id, skip):
    """basic.get (no-ack) of the one message; its problems, or None if the queue is empty."""
    connection = await aiormq.connect(amqp_uri())
    try:
        channel = await connection.channel()
        message = await channel.basic_get(queue, no_ack=True)
        if not isinstance(message.delivery, pamqp.commands.Basic.GetOk):
            return None
        problems = compare(message.body, message.header.properties, app_id, skip)
        if message.delivery.message_count != 0:
            problems.append("queue held %d more message(s)" % message.delivery.message_count)
        return problems
    finally:
        await connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queue", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--skip", default="", help="comma-separated header keys/properties")
    args = parser.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    unknown = skip - set(HEADERS) - set(expected_properties(args.app_id))
    if unknown:
        print("check_properties: unknown --skip names: %s" % ", ".join(sorted(unknown)))
        return 2

    problems = asyncio.run(fetch_and_compare(args.queue, args.app_id, skip))
    if problems is None:
        print("check_properties: queue %s is empty" % args.queue)
        return 1
    for problem in problems:
        print("check_properties: " + problem)
    if problems:
        return 1
    checked = len(HEADERS) - len(skip & set(HEADERS))
    print("check_properties: body, %d properties and %d headers as expected%s" % (
        len(expected_properties(args.app_id)) - len(skip - set(HEADERS)), checked,
        " (skipped: %s)" % ", ".join(sorted(skip)) if skip else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
