#!/usr/bin/env bash
# Heartbeats with rabbitmq-c's tools: `amqp-consume --heartbeat=N` (INTEROP_HEARTBEAT,
# default 1 s) waits on an empty queue while nothing is published for INTEROP_IDLE_SECONDS
# (default 4, several heartbeat intervals): the connection must survive the idle time (each
# side sends heartbeats; a side that hears nothing for two intervals closes it), and the
# message published afterwards must reach it; amqp-publish with the same heartbeat works too.
source "$(dirname "${BASH_SOURCE[0]}")/helpers/common.sh"

HEARTBEAT="${INTEROP_HEARTBEAT:-1}"
IDLE="${INTEROP_IDLE_SECONDS:-4}"
Q="$(unique heartbeats)"
declare_queue "$Q"

timeout $((IDLE + 60)) amqp-consume -u "$URI" --heartbeat="$HEARTBEAT" -q "$Q" -c 1 -- cat \
  >"$WORK/got" 2>"$WORK/consume.err" &
consumer=$!
PIDS+=("$consumer")
# The idle period is the point of the scenario: nothing is sent by this program meanwhile.
sleep "$IDLE"
kill -0 "$consumer" 2>/dev/null || fail "amqp-consume exited while idle: $(cat "$WORK/consume.err")"
amqp-publish -u "$URI" --heartbeat="$HEARTBEAT" -r "$Q" -b "after $IDLE s idle"
rc=0; wait "$consumer" || rc=$?
expect_eq "$rc" "0" "amqp-consume exit status ($(cat "$WORK/consume.err"))"
expect_eq "$(cat "$WORK/got")" "after $IDLE s idle" "body received after the idle time"
expect_eq "$(depth "$Q")" "0" "queue empty at the end"
echo "a consumer with heartbeat $HEARTBEAT s stayed connected through $IDLE s idle"
