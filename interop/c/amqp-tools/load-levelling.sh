#!/usr/bin/env bash
# Load levelling with rabbitmq-c's tools: a burst of INTEROP_C_BURST (default 4,000;
# amqp-consume runs one process per message, so the C burst is smaller than the other
# clients' 100,000) persistent messages is published by two concurrent `amqp-publish -l`
# into two durable queues while no consumer is attached; each queue's depth is then
# exactly half the burst, and `amqp-consume -p 500` drains each queue completely, strictly
# in publish order; the queues end empty.
source "$(dirname "${BASH_SOURCE[0]}")/helpers/common.sh"

BURST="${INTEROP_C_BURST:-4000}"
HALF=$((BURST / 2))
publishers=()
for i in 0 1; do
  declare_queue "$(unique "level-$i")" -d
  seq -f "q$i-%g" 1 "$HALF" >"$WORK/sent-$i"
done
for i in 0 1; do
  amqp-publish -u "$URI" -r "$(unique "level-$i")" -p -l <"$WORK/sent-$i" &
  publishers+=($!)
done
for p in "${publishers[@]}"; do wait "$p" || fail "amqp-publish failed"; done
for i in 0 1; do
  expect_eq "$(depth "$(unique "level-$i")")" "$HALF" "depth of queue $i after the burst"
done
for i in 0 1; do
  q="$(unique "level-$i")"
  timeout 90 amqp-consume -u "$URI" -q "$q" -c "$HALF" -p 500 -- cat >"$WORK/got-$i"
  cmp -s "$WORK/sent-$i" "$WORK/got-$i" ||
    fail "queue $i drained out of order or incompletely: $(diff "$WORK/sent-$i" "$WORK/got-$i" | head -5)"
  expect_eq "$(depth "$q")" "0" "queue $i empty at the end"
done
echo "a burst of $BURST drained in order from two queues"
