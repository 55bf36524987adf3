#!/usr/bin/env bash
# Background jobs with rabbitmq-c's tools: INTEROP_C_JOBS (default 2,000; amqp-consume runs
# one process per job) persistent jobs published with amqp-publish -l into a durable queue;
# four workers are `amqp-consume -p 10` processes running helpers/job-worker.sh per job
# (acked when it exits 0). Worker 0 stalls in the middle of a job after 100 and its
# amqp-consume is killed with SIGKILL: its unacked jobs go back to the queue and the others
# finish them. Checks: every job done exactly once, the stalled job done by another worker,
# worker 0 did nothing after stalling, the queue ends empty.
source "$(dirname "${BASH_SOURCE[0]}")/helpers/common.sh"

JOBS="${INTEROP_C_JOBS:-2000}"
STALL_AFTER=100
Q="$(unique jobs)"
declare_queue "$Q" -d
RESULTS="$WORK/results"
: >"$RESULTS"

seq -f "job-%g" 1 "$JOBS" | amqp-publish -u "$URI" -r "$Q" -p -l
expect_eq "$(depth "$Q")" "$JOBS" "jobs queued"

WORKER_PIDS=()
for w in 0 1 2 3; do
  amqp-consume -u "$URI" -q "$Q" -p 10 -- sh "$TOOLS_DIR/helpers/job-worker.sh" "$w" "$RESULTS" \
    "$STALL_AFTER" >/dev/null 2>"$WORK/worker-$w.err" &
  WORKER_PIDS+=($!)
  PIDS+=($!)
done

wait_until '[[ -s "$RESULTS.stalled" ]]' 60
read -r stalled_job stalled_pid <"$RESULTS.stalled"
kill -9 "${WORKER_PIDS[0]}"
wait "${WORKER_PIDS[0]}" 2>/dev/null || true
kill -9 "$stalled_pid" 2>/dev/null || true
# Job lines are "job-N\n": count the results until every job is in.
wait_until '[[ $(wc -l <"$RESULTS") -ge $JOBS ]]' 90
expect_eq "$(depth "$Q")" "0" "jobs left in the queue"
for w in 1 2 3; do
  kill -0 "${WORKER_PIDS[$w]}" 2>/dev/null || fail "worker $w died: $(cat "$WORK/worker-$w.err")"
  kill "${WORKER_PIDS[$w]}"
done

expect_eq "$(cut -d' ' -f1 "$RESULTS" | sort | uniq -d | head -3 | tr '\n' ' ')" "" "jobs done twice"
expect_eq "$(cut -d' ' -f1 "$RESULTS" | sort -u | wc -l)" "$JOBS" "distinct jobs done"
expect_eq "$(cut -d' ' -f1 "$RESULTS" | sort)" "$(seq -f "job-%g" 1 "$JOBS" | sort)" "the set of jobs done"
expect_eq "$(awk '$2 == 0' "$RESULTS" | wc -l)" "$STALL_AFTER" "jobs done by worker 0"
done_by="$(awk -v j="$stalled_job" '$1 == j { print $2 }' "$RESULTS")"
[[ "$done_by" =~ ^[123]$ ]] || fail "stalled $stalled_job done by [$done_by]"
echo "$JOBS jobs done once each; $stalled_job (stalled in worker 0) done by worker $done_by"
