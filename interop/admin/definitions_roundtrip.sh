#!/usr/bin/env bash
# Definitions round trip between a real RabbitMQ 3.10 and Warren (not run by CI: it needs a
# RabbitMQ with its management plugin).
#
#   interop/admin/definitions_roundtrip.sh
#
# Needs: RabbitMQ at $RABBIT_MGMT (default http://127.0.0.1:15672, AMQP on $RABBIT_AMQP_PORT,
# default 5672, user guest/guest), python3 with pika, and a built Warren ($WARREN_BIN,
# default target/debug/warren). Everything it creates in RabbitMQ is named defs-* and is
# deleted at the end (KEEP=1 keeps it).
#
# 1. Builds a topology in RabbitMQ's vhost defs-src: users with different tags and hashing
#    algorithms (SHA-256, SHA-512, MD5, one without a password), permissions, topic
#    permissions, vhost and user limits, a policy, an operator policy, queues with
#    arguments (quorum, priorities, dead-lettering, TTL, a transient auto-delete one),
#    exchanges (internal, alternate-exchange, auto-delete headers) and bindings (queue,
#    exchange-to-exchange, with arguments, from amq.topic).
# 2. Exports it from RabbitMQ, imports it into a fresh Warren, logs every user in over AMQP
#    with its RabbitMQ password, and compares Warren's export of the vhost with RabbitMQ's.
# 3. Exports from Warren, renames the vhost to defs-back, imports into RabbitMQ, logs the
#    users in there, and compares RabbitMQ's export of defs-back with Warren's.
# 4. Imports Warren's single-vhost export into RabbitMQ's vhost defs-back2 and compares.
# Writes tests/fixtures/definitions/rabbitmq-*.json again when FIXTURES=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export RABBIT_MGMT="${RABBIT_MGMT:-http://127.0.0.1:15672}"
export RABBIT_AMQP_PORT="${RABBIT_AMQP_PORT:-5672}"
WARREN_BIN="${WARREN_BIN:-$ROOT/target/debug/warren}"
[[ -x "$WARREN_BIN" ]] || { echo "no Warren binary at $WARREN_BIN (cargo build)" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK="$(mktemp -d)"
AMQP_PORT="$(free_port)"
MGMT_PORT="$(free_port)"
WARREN_MANAGEMENT__LISTEN="127.0.0.1:$MGMT_PORT" WARREN_PROMETHEUS__LISTEN="" \
  "$WARREN_BIN" --listen "127.0.0.1:$AMQP_PORT" --data-dir "$WORK/data" --log-level warn \
  >"$WORK/warren.log" 2>&1 &
WARREN_PID=$!
cleanup() {
  kill "$WARREN_PID" 2>/dev/null || true
  wait "$WARREN_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -sf -u guest:guest "http://127.0.0.1:$MGMT_PORT/api/overview" >/dev/null && break
  sleep 0.1
done

export WARREN_MGMT="http://127.0.0.1:$MGMT_PORT" WARREN_AMQP_PORT="$AMQP_PORT"
export FIXTURE_DIR="$ROOT/tests/fixtures/definitions" FIXTURES="${FIXTURES:-0}" KEEP="${KEEP:-0}"
exec python3 "$HERE/definitions_roundtrip.py"
