#!/usr/bin/env bash
# rabbitmq-c's command-line tools (Debian amqp-tools): amqp-declare-queue, amqp-publish
# (bodies, lines, properties, headers), amqp-get, amqp-consume -c N, amqp-delete-queue
# (message counts, --if-empty refused with 406), and a publish to a missing exchange (404).
set -euo pipefail

URI="${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/%2F}"
PY="${INTEROP_PYTHON:-python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RAND="$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
Q="interop.amqp-tools.$RAND"
QP="interop.amqp-tools.props.$RAND"
WORK="$(mktemp -d)"
cleanup() {
  amqp-delete-queue -u "$URI" -q "$Q" >/dev/null 2>&1 || true
  amqp-delete-queue -u "$URI" -q "$QP" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAILED: $*" >&2; exit 1; }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: expected [$2], got [$1]"; }

# Declares print the queue name: client-named durable, then server-named.
expect_eq "$(amqp-declare-queue -u "$URI" -q "$Q" -d)" "$Q" "amqp-declare-queue output"
expect_eq "$(amqp-declare-queue -u "$URI" -q "$QP")" "$QP" "amqp-declare-queue output"
gen="$(amqp-declare-queue -u "$URI" -q "")"
[[ "$gen" == amq.gen-* ]] || fail "server-named queue: $gen"
expect_eq "$(amqp-delete-queue -u "$URI" -q "$gen")" "0" "delete the server-named queue"

# Properties and headers as amqp-publish sends them, read back by another client.
amqp-publish -u "$URI" -r "$QP" -p -C application/json -E utf-8 -t reply.here \
  -H "x-origin: amqp-tools" -H "x-words: two words" -b '{"n": 1}'
props="$("$PY" "$HERE/../helpers/get-properties.py" "$QP")"
expect_eq "$props" \
  '{"body": "{\"n\": 1}", "content_encoding": "utf-8", "content_type": "application/json", "delivery_mode": 2, "headers": {"x-origin": "amqp-tools", "x-words": "two words"}, "reply_to": "reply.here"}' \
  "properties seen by pika"

# Three single publishes and five lines (-l: one message per line), in order.
for b in first second third; do
  amqp-publish -u "$URI" -r "$Q" -p -C text/plain -b "$b"
done
printf 'line 1\nline 2\nline 3\nline 4\nline 5\n' | amqp-publish -u "$URI" -r "$Q" -l -C text/plain

for b in first second third; do
  expect_eq "$(amqp-get -u "$URI" -q "$Q")" "$b" "amqp-get body"
done

# amqp-consume -c 5 runs the command once per message, body on stdin, then exits.
amqp-consume -u "$URI" -q "$Q" -c 5 -p 2 -- sh -c 'cat >> "$0"; echo "|" >> "$0"' "$WORK/got"
expect_eq "$(tr -d '\n' <"$WORK/got")" "line 1|line 2|line 3|line 4|line 5|" "amqp-consume bodies"

# Nothing left: amqp-get exits 2 on an empty queue.
rc=0; out="$(amqp-get -u "$URI" -q "$Q" 2>&1)" || rc=$?
expect_eq "$rc" "2" "amqp-get exit status on an empty queue ($out)"

# A publish to a missing exchange: the channel is closed with 404, the tool fails.
rc=0; out="$(amqp-publish -u "$URI" -e "interop.amqp-tools.missing.$RAND" -r k -b x 2>&1)" || rc=$?
[[ $rc -ne 0 ]] || fail "publish to a missing exchange succeeded"
[[ "$out" == *"404"*"NOT_FOUND - no exchange 'interop.amqp-tools.missing.$RAND'"* ]] || fail "404 text: $out"

# queue.delete --if-empty on a non-empty queue: 406; plain delete reports the count.
amqp-publish -u "$URI" -r "$Q" -b leftover
rc=0; out="$(amqp-delete-queue -u "$URI" -q "$Q" --if-empty 2>&1)" || rc=$?
[[ $rc -ne 0 ]] || fail "--if-empty deleted a non-empty queue"
[[ "$out" == *"406"*"PRECONDITION_FAILED - queue '$Q' in vhost '/' not empty"* ]] || fail "406 text: $out"
expect_eq "$(amqp-delete-queue -u "$URI" -q "$Q")" "1" "message count reported by amqp-delete-queue"
# Deleting a queue that no longer exists succeeds with 0, as in RabbitMQ.
expect_eq "$(amqp-delete-queue -u "$URI" -q "$Q")" "0" "deleting a missing queue"
expect_eq "$(amqp-delete-queue -u "$URI" -q "$QP")" "0" "props queue empty"
echo "amqp-tools: declare, publish (properties, lines), get, consume -c 5, delete ok"
