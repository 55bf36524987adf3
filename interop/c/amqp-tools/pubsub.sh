#!/usr/bin/env bash
# Publish/subscribe with rabbitmq-c's tools over the predeclared amq.fanout exchange (the
# tools cannot declare exchanges): three `amqp-consume -e amq.fanout` subscribers each
# declare their own (auto-delete) queue and bind it. Probes are published until every
# subscriber has seen one (all bindings in place), then 100 events and an end marker are
# published once with `amqp-publish -l`: every subscriber must get all events, in order,
# after its probes and before the marker, and nothing else.
source "$(dirname "${BASH_SOURCE[0]}")/helpers/common.sh"

N=100
SUBS=(a b c)
subscribers=()
for s in "${SUBS[@]}"; do
  timeout 60 amqp-consume -u "$URI" -q "$(unique "sub-$s")" -e amq.fanout -r any -- cat \
    >"$WORK/got-$s" 2>"$WORK/err-$s" &
  subscribers+=($!)
  PIDS+=($!)
done
has_line() { grep -qx -- "$2" "$WORK/got-$1" 2>/dev/null; }
all_have() {
  local s
  for s in "${SUBS[@]}"; do has_line "$s" "$1" || return 1; done
}
deadline=$((SECONDS + 20))
until all_have "probe-$RAND"; do
  ((SECONDS < deadline)) || fail "subscribers not bound within 20 s: $(cat "$WORK"/err-*)"
  amqp-publish -u "$URI" -e amq.fanout -r any -b "probe-$RAND"$'\n'
  sleep 0.05
done

{ seq -f "event-%g" 1 "$N"; echo "end-$RAND"; } | amqp-publish -u "$URI" -e amq.fanout -r any -l
wait_until "all_have end-$RAND" 60
for i in "${!SUBS[@]}"; do
  s="${SUBS[$i]}"
  kill "${subscribers[$i]}"
  expect_eq "$(grep -vx -- "probe-$RAND" "$WORK/got-$s")" "$(seq -f "event-%g" 1 "$N"; echo "end-$RAND")" \
    "what subscriber $s got after its probes"
  expect_eq "$(grep -m1 -n -vx -- "probe-$RAND" "$WORK/got-$s" | cut -d: -f1)" \
    "$(($(grep -cx -- "probe-$RAND" "$WORK/got-$s") + 1))" "probes only before the events ($s)"
done
echo "${#SUBS[@]} subscribers each got all $N events in order"
