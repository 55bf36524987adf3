#!/usr/bin/env bash
# Large and small messages with rabbitmq-c's tools: a 16 MiB random body published from
# standard input by amqp-publish comes back byte-identical through amqp-get and through
# amqp-consume; then INTEROP_C_SMALL (default 2,000; amqp-consume runs one process per
# message) one-line messages of 0..100 characters, published with amqp-publish -l, are
# consumed back in order with exact bodies, and the queue ends empty.
source "$(dirname "${BASH_SOURCE[0]}")/helpers/common.sh"

SMALL="${INTEROP_C_SMALL:-2000}"
Q="$(unique large-and-small)"
declare_queue "$Q"

head -c $((16 * 1024 * 1024)) /dev/urandom >"$WORK/big"
want="$(sha256sum <"$WORK/big" | cut -d' ' -f1)"
for _ in 1 2; do amqp-publish -u "$URI" -r "$Q" -p <"$WORK/big"; done
expect_eq "$(depth "$Q")" "2" "16 MiB messages queued"
amqp-get -u "$URI" -q "$Q" >"$WORK/got-get"
expect_eq "$(sha256sum <"$WORK/got-get" | cut -d' ' -f1)" "$want" "SHA-256 of the body from amqp-get"
timeout 60 amqp-consume -u "$URI" -q "$Q" -c 1 -- cat >"$WORK/got-consume"
expect_eq "$(sha256sum <"$WORK/got-consume" | cut -d' ' -f1)" "$want" \
  "SHA-256 of the body from amqp-consume"

# Line i holds i % 101 characters, so lengths run 0..100 ("" is an empty line).
awk -v n="$SMALL" 'BEGIN { for (i = 0; i < n; i++) { s = ""; for (j = 0; j < i % 101; j++) s = s sprintf("%c", 97 + (i + j) % 26); print s } }' \
  >"$WORK/small"
amqp-publish -u "$URI" -r "$Q" -l <"$WORK/small"
expect_eq "$(depth "$Q")" "$SMALL" "small messages queued"
# Each body is one line with its newline; amqp-consume pipes it to cat.
timeout 90 amqp-consume -u "$URI" -q "$Q" -c "$SMALL" -p 200 -- cat >"$WORK/small-got"
cmp -s "$WORK/small" "$WORK/small-got" || fail "small bodies differ: $(diff "$WORK/small" "$WORK/small-got" | head -5)"
expect_eq "$(depth "$Q")" "0" "queue empty at the end"
echo "16 MiB twice and $SMALL small messages round-tripped"
