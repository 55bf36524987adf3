#!/usr/bin/env bash
# RabbitMQ's classic rabbitmqadmin (Debian's rabbitmq-server package, run unmodified) against
# the broker's management API at $MGMT_URL: declare an exchange, a queue with arguments and a
# binding; list them (tsv and raw_json); publish routed and unrouted messages with properties
# and base64 payloads; get them back with ackmodes; purge; show overview; list connections,
# channels, consumers, vhosts and nodes; export and import definitions (whole broker and
# vhost); delete everything; errors exit 1 with "***".
set -euo pipefail

ADMIN="${RABBITMQADMIN:?RABBITMQADMIN names the rabbitmqadmin script}"
MGMT_URL="${MGMT_URL:?MGMT_URL names the management API, http://host:port}"
HOSTPORT="${MGMT_URL#http://}"
HOSTPORT="${HOSTPORT%%/*}"
HOST="${HOSTPORT%:*}"
PORT="${HOSTPORT##*:}"
RAND="$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
X="interop.admin.x.$RAND"
Q="interop.admin.q.$RAND"

admin() {
  python3 "$ADMIN" -H "$HOST" -P "$PORT" -u "${MGMT_USER:-guest}" -p "${MGMT_PASSWORD:-guest}" \
    -V / "$@"
}
cleanup() {
  admin delete exchange name="$X" >/dev/null 2>&1 || true
  admin delete queue name="$Q" >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: expected [$2], got [$1]"; }
# Prints (keys sorted) the JSON value of a Python expression over `v`, the parsed stdin.
jq_py() { python3 -c "import json,sys; v=json.load(sys.stdin); print(json.dumps($1, sort_keys=True))"; }

expect_eq "$(admin declare exchange name="$X" type=topic durable=false)" "exchange declared" \
  "declare exchange"
expect_eq "$(admin declare queue name="$Q" durable=false arguments='{"x-max-length":10}')" \
  "queue declared" "declare queue"
expect_eq "$(admin declare binding source="$X" destination="$Q" routing_key='a.*')" \
  "binding declared" "declare binding"

# Listings are read whole before grep looks at them: `grep -q` stops at the first match,
# and under pipefail the lister's broken pipe would fail the check.
exchanges="$(admin list exchanges name type -f tsv)"
grep -qxF "$X"$'\t'"topic" <<<"$exchanges" || fail "exchange not listed"
grep -qxF "amq.direct"$'\t'"direct" <<<"$exchanges" \
  || fail "amq.direct not listed"
bindings="$(admin list bindings source destination routing_key -f tsv)"
grep -qxF "$X"$'\t'"$Q"$'\t'"a.*" <<<"$bindings" || fail "binding not listed: $bindings"
grep -qxF $'\t'"$Q"$'\t'"$Q" <<<"$bindings" || fail "default binding not listed: $bindings"
args="$(admin list queues name durable arguments -f raw_json \
  | jq_py "[q for q in v if q['name'] == '$Q']")"
expect_eq "$args" "[{\"arguments\": {\"x-max-length\": 10}, \"durable\": false, \"name\": \"$Q\"}]" \
  "queue listed with its arguments"

expect_eq "$(admin publish exchange="$X" routing_key=a.b payload=hello \
  properties='{"content_type":"text/plain","headers":{"k":"v"}}')" "Message published" "publish"
expect_eq "$(admin publish exchange="$X" routing_key=zz payload=lost)" \
  "Message published but NOT routed" "unrouted publish"
expect_eq "$(admin publish exchange=amq.default routing_key="$Q" payload=aGk= \
  payload_encoding=base64)" "Message published" "base64 publish"

got="$(admin get queue="$Q" ackmode=ack_requeue_false count=1 -f raw_json)"
expect_eq "$(jq_py "[v[0][k] for k in ('payload', 'payload_encoding', 'exchange', 'routing_key', 'message_count', 'redelivered')]" <<<"$got")" \
  "[\"hello\", \"string\", \"$X\", \"a.b\", 1, false]" "first message"
expect_eq "$(jq_py "v[0]['properties']" <<<"$got")" \
  '{"content_type": "text/plain", "headers": {"k": "v"}}' "first message properties"
# ack_requeue_true leaves it in the queue, redelivered the next time.
got="$(admin get queue="$Q" ackmode=ack_requeue_true -f raw_json)"
expect_eq "$(jq_py "[v[0]['payload'], v[0]['redelivered']]" <<<"$got")" '["hi", false]' \
  "second message"
got="$(admin get queue="$Q" ackmode=ack_requeue_true -f raw_json)"
expect_eq "$(jq_py "[v[0]['payload'], v[0]['redelivered']]" <<<"$got")" '["hi", true]' \
  "second message again"

expect_eq "$(admin purge queue name="$Q")" "queue purged" "purge"
expect_eq "$(admin get queue="$Q" -f raw_json)" "[]" "get from an empty queue"

overview="$(admin show overview -f raw_json | jq_py "sorted(k for k in ('management_version', 'rabbitmq_version', 'node') if k in v[0])")"
expect_eq "$overview" '["management_version", "node", "rabbitmq_version"]' "show overview"
for what in connections channels consumers vhosts nodes; do
  admin list "$what" >/dev/null || fail "list $what"
done
grep -qxF "/" <<<"$(admin list vhosts name -f tsv)" || fail "vhost / not listed"

# Definitions: export the whole broker and the vhost, delete the queue, import it back.
DEFS="$(mktemp -d)"
admin_all() {
  python3 "$ADMIN" -H "$HOST" -P "$PORT" -u "${MGMT_USER:-guest}" -p "${MGMT_PASSWORD:-guest}" "$@"
}
admin_all export "$DEFS/all.json" >/dev/null || fail "export"
expect_eq "$(jq_py "[[x['vhost'], x['type'], x['durable']] for x in v['exchanges'] if x['name'] == '$X']" <"$DEFS/all.json")" \
  '[["/", "topic", false]]' "exported exchange"
expect_eq "$(jq_py "[q['arguments'] for q in v['queues'] if q['name'] == '$Q']" <"$DEFS/all.json")" \
  '[{"x-max-length": 10}]' "exported queue"
expect_eq "$(jq_py "sorted(k for k in ('rabbit_version', 'users', 'vhosts', 'permissions', 'policies', 'bindings') if k in v)" <"$DEFS/all.json")" \
  '["bindings", "permissions", "policies", "rabbit_version", "users", "vhosts"]' "export keys"
admin export "$DEFS/vhost.json" >/dev/null || fail "export of vhost /"
expect_eq "$(jq_py "[b['routing_key'] for b in v['bindings'] if b['source'] == '$X' and 'vhost' not in b]" <"$DEFS/vhost.json")" \
  '["a.*"]' "binding in the vhost's export"
admin delete queue name="$Q" >/dev/null
admin import "$DEFS/vhost.json" >/dev/null || fail "import into vhost /"
args="$(admin list queues name arguments -f raw_json | jq_py "[q['arguments'] for q in v if q['name'] == '$Q']")"
expect_eq "$args" '[{"x-max-length": 10}]' "queue imported back with its arguments"
bindings="$(admin list bindings source destination routing_key -f tsv)"
grep -qxF "$X"$'\t'"$Q"$'\t'"a.*" <<<"$bindings" || fail "binding not imported back: $bindings"
admin_all import "$DEFS/all.json" >/dev/null || fail "import of the whole export"
echo '{"queues": [{"name": "q", "vhost": "/", "durable": true}]}' >"$DEFS/bad.json"
rc=0
err="$(admin_all import "$DEFS/bad.json" 2>&1)" || rc=$?
expect_eq "$rc" "1" "importing a bad file"
[[ "$err" == "*** "* ]] || fail "bad file message: $err"
rm -rf "$DEFS"

expect_eq "$(admin delete binding source="$X" destination_type=queue destination="$Q" \
  properties_key='a.*')" "binding deleted" "delete binding"
bindings="$(admin list bindings source destination routing_key -f tsv)"
if grep -qxF "$X"$'\t'"$Q"$'\t'"a.*" <<<"$bindings"; then fail "binding still listed"; fi
expect_eq "$(admin delete exchange name="$X")" "exchange deleted" "delete exchange"
expect_eq "$(admin delete queue name="$Q")" "queue deleted" "delete queue"
if grep -qxF "$Q" <<<"$(admin list queues name -f tsv)"; then fail "queue still listed"; fi

rc=0
err="$(admin delete queue name="$Q" 2>&1)" || rc=$?
expect_eq "$rc" "1" "deleting a missing queue"
expect_eq "$err" "*** Not found: /api/queues/%2F/$Q" "deleting a missing queue (message)"
rc=0
err="$(admin declare queue name="$Q" durable=false arguments='{"x-max-length":"ten"}' 2>&1)" \
  || rc=$?
expect_eq "$rc" "1" "declaring a queue with a bad argument"
grep -qF "invalid arg 'x-max-length'" <<<"$err" || fail "bad argument message: $err"
echo "rabbitmqadmin: all checks passed against $MGMT_URL"
