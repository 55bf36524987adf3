#!/usr/bin/env bash
# Debian's nagios-plugins-rabbitmq (Perl, LWP; run unmodified) against the broker's
# management API at $MGMT_URL, as a monitoring host runs them: aliveness, overview, objects,
# connections, one queue's counts with warning and critical thresholds, a missing queue,
# partitions and alarms of the node rabbit@<short host name>, and a wrong password. LWP sends
# the credentials only after a 401 with RabbitMQ's Basic challenge, so every check also
# proves the challenge is there.
set -euo pipefail

MGMT_URL="${MGMT_URL:?MGMT_URL names the management API, http://host:port}"
HOSTPORT="${MGMT_URL#http://}"
HOSTPORT="${HOSTPORT%%/*}"
HOST="${HOSTPORT%:*}"
PORT="${HOSTPORT##*:}"
USER_="${MGMT_USER:-guest}"
PASS="${MGMT_PASSWORD:-guest}"
NODE="$(hostname -s)"
Q="interop.nagios.q.$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"

fail() { echo "FAILED: $*" >&2; exit 1; }
# Calls the API (preemptive Basic auth, unlike the checks): method path [json body].
api() {
  python3 - "$1" "$2" "${3:-}" "$MGMT_URL" "$USER_" "$PASS" <<'PY'
import base64, sys, urllib.request
method, path, body, base, user, password = sys.argv[1:7]
req = urllib.request.Request(base + path, method=method, data=body.encode() or None)
req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
req.add_header("Content-Type", "application/json")
with urllib.request.urlopen(req, timeout=10) as r:
    print(r.read().decode())
PY
}
cleanup() { api DELETE "/api/queues/%2F/$Q" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Runs a check and requires its exit status and a fragment of its first line.
expect() { # status fragment check args...
  local want_rc="$1" want="$2" out rc=0
  shift 2
  out="$("$@" -H "$HOST" --port "$PORT" 2>&1)" || rc=$?
  [[ $rc -eq $want_rc ]] || fail "$* exited $rc, not $want_rc: $out"
  [[ "$out" == *"$want"* ]] || fail "$*: [$want] not in: $out"
  echo "ok ($rc): ${out%%|*}"
}
creds=(-u "$USER_" -p "$PASS")

api PUT "/api/queues/%2F/$Q" '{"durable":false,"auto_delete":false,"arguments":{}}' >/dev/null
for i in 1 2 3; do
  routed="$(api POST /api/exchanges/%2F/amq.default/publish \
    "{\"properties\":{},\"routing_key\":\"$Q\",\"payload\":\"m$i\",\"payload_encoding\":\"string\"}")"
  [[ "$routed" == *'"routed":true'* ]] || fail "publish $i: $routed"
done

# RabbitMQ's queue counts reach its API with the next statistics emission (every 5 s);
# Warren's are current. Wait for them as a monitoring host's next check would see them.
for _ in $(seq 30); do
  out="$(check_rabbitmq_queue "${creds[@]}" --queue "$Q" -H "$HOST" --port "$PORT" 2>&1)" || true
  [[ "$out" == *"messages=3;;"* ]] && break
  sleep 1
done

expect 0 "RABBITMQ_ALIVENESS OK - vhost: /" check_rabbitmq_aliveness "${creds[@]}"
expect 0 "RABBITMQ_OVERVIEW OK" check_rabbitmq_overview "${creds[@]}"
expect 0 "RABBITMQ_OBJECTS OK - Gathered Object Counts" check_rabbitmq_objects "${creds[@]}"
expect 0 "RABBITMQ_CONNECTIONS OK" check_rabbitmq_connections "${creds[@]}"
expect 0 "messages=3;; messages_ready=3;; messages_unacknowledged=0;; consumers=0;;" \
  check_rabbitmq_queue "${creds[@]}" --queue "$Q"
expect 1 "RABBITMQ_QUEUE WARNING - messages WARNING (3)" \
  check_rabbitmq_queue "${creds[@]}" --queue "$Q" -w 2
expect 2 "RABBITMQ_QUEUE CRITICAL - messages CRITICAL (3)" \
  check_rabbitmq_queue "${creds[@]}" --queue "$Q" -c 2
expect 2 "RABBITMQ_QUEUE CRITICAL - Not Found" \
  check_rabbitmq_queue "${creds[@]}" --queue "$Q.missing"
expect 0 "RABBITMQ_PARTITION OK - No Partitions" check_rabbitmq_partition "${creds[@]}" --node "$NODE"
expect 0 "RABBITMQ_WATERMARK OK - mem_alarm disk_free_alarm" \
  check_rabbitmq_watermark "${creds[@]}" --node "$NODE"
expect 3 "RABBITMQ_ALIVENESS UNKNOWN - Access refused" \
  check_rabbitmq_aliveness -u "$USER_" -p "not-$PASS"
echo "nagios-plugins-rabbitmq: all checks as against RabbitMQ"
