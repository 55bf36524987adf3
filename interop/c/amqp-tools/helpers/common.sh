# Shared by the amqp-tools scenarios (sourced): the broker URI, unique names, failure
# reporting, bounded waits and cleanup of what a scenario declared.
set -euo pipefail

URI="${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/%2F}"
PY="${INTEROP_PYTHON:-python3}"
TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
C_HELPERS="$TOOLS_DIR/../helpers"
RAND="$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
WORK="$(mktemp -d)"
QUEUES=()
PIDS=()

# A unique name for this run: interop.amqp-tools.<what>.<random>.
unique() { echo "interop.amqp-tools.$1.$RAND"; }

cleanup() {
  local p q
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for q in "${QUEUES[@]}"; do amqp-delete-queue -u "$URI" -q "$q" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAILED: $*" >&2; exit 1; }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: expected [$2], got [$1]"; }

# Declares a queue (durable with -d) that cleanup deletes.
declare_queue() {
  local name="$1"; shift
  expect_eq "$(amqp-declare-queue -u "$URI" -q "$name" "$@")" "$name" "amqp-declare-queue"
  QUEUES+=("$name")
}

# The queue's message count, read with pika (the C tools cannot read it).
depth() { "$PY" "$C_HELPERS/queue-depth.py" "$1"; }

# Waits (bounded by $2 seconds) until the shell condition $1 holds.
wait_until() {
  local deadline=$((SECONDS + $2))
  until eval "$1"; do
    ((SECONDS < deadline)) || fail "timed out after $2 s waiting for: $1"
    sleep 0.05
  done
}
