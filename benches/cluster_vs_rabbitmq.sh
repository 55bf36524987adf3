#!/usr/bin/env bash
# A 3-node Warren cluster against a 3-node RabbitMQ cluster with quorum queues, on one
# machine (see benches/README.md, "cluster_vs_rabbitmq.sh").
#
# Starts both clusters side by side (RabbitMQ nodes cbq1..3@localhost on AMQP 5690-5692,
# Erlang distribution 26290-26292; Warren on AMQP 5693-5695, cluster ports 26293-26295),
# measures idle RssAnon per node with 1 and with 1,000 quorum queues declared, then runs
# warren-perf ROUNDS times against each, interleaved (1 KiB persistent messages to one
# quorum queue, 1,000 confirms in flight, one consumer with manual acks, prefetch 1,000),
# recording confirmed msg/s, confirm p50/p99, the CPU time (user + system) of the 3 nodes per
# 1,000 confirmed messages (less sensitive to other load than msg/s), RssAnon per node after
# the run and the load average. Before each run it waits (up to QUIESCE seconds) until
# both clusters are idle, so one broker's background work after its run does not land in
# the other's. Prints one line per measurement and the medians. Stops both clusters at the end.
#
# Needs: target/release/warren and target/release/warren-perf
# (cargo build --release --bin warren --bin warren-perf), RabbitMQ's scripts in
# /usr/lib/rabbitmq/bin (3.10.8 was used), python3 with pika.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-20}
WARMUP=${WARMUP:-5}
QUEUES=${QUEUES:-1000}
SETTLE=${SETTLE:-15}
HEARTBEAT=${HEARTBEAT:-500}
QUIESCE=${QUIESCE:-60}
BROKERS=${BROKERS:-warren rabbitmq} # BROKERS=warren measures Warren alone
PERF_ARGS=${PERF_ARGS:-}            # more warren-perf options, e.g. "--rate 20000"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WARREN=${WARREN:-$ROOT/target/release/warren}
PERF=${PERF:-$ROOT/target/release/warren-perf}
RMQ=${RMQ:-/usr/lib/rabbitmq/bin}
WORK=${WORK:-/tmp/cluster-bench}
RESULTS=$WORK/results.txt
WARREN_PIDS="" RMQ_PIDS=""

log() { echo "$*" | tee -a "$RESULTS"; }

rmq_env() { # node number -> environment of that RabbitMQ node
  local n=$1
  export HOME=$WORK/rmq/home RABBITMQ_NODENAME=cbq$n@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$((5689 + n)) RABBITMQ_DIST_PORT=$((26289 + n))
  export RABBITMQ_MNESIA_BASE=$WORK/rmq/q$n/mnesia RABBITMQ_LOG_BASE=$WORK/rmq/q$n/log
  export RABBITMQ_PID_FILE=$WORK/rmq/q$n/beam.pid RABBITMQ_ENABLED_PLUGINS_FILE=$WORK/rmq/q$n/enabled_plugins
  export RABBITMQ_CONFIG_FILE=$WORK/rmq/q$n/rabbitmq.conf RABBITMQ_ADVANCED_CONFIG_FILE=$WORK/rmq/q$n/advanced.config
  export RABBITMQ_CONF_ENV_FILE=$WORK/rmq/q$n/rabbitmq-env.conf
}

rmq_start() {
  mkdir -p "$WORK/rmq/home"
  for n in 1 2 3; do
    mkdir -p "$WORK/rmq/q$n/mnesia" "$WORK/rmq/q$n/log"
    echo '[].' >"$WORK/rmq/q$n/enabled_plugins"
    echo '[].' >"$WORK/rmq/q$n/advanced.config"
    : >"$WORK/rmq/q$n/rabbitmq-env.conf"
    printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' $((5689 + n)) \
      >"$WORK/rmq/q$n/rabbitmq.conf"
    (rmq_env $n; setsid nohup "$RMQ/rabbitmq-server" >"$WORK/rmq/q$n/stdout.log" 2>&1 &)
  done
  for n in 1 2 3; do # the node must be known to epmd before await_startup waits for it
    for _ in $(seq 1 300); do
      (rmq_env $n; "$RMQ/rabbitmqctl" -q -n cbq$n@localhost await_startup >/dev/null 2>&1) && break
      sleep 1
    done
  done
  for n in 2 3; do
    (rmq_env $n; C="$RMQ/rabbitmqctl -q -n cbq$n@localhost"
     $C stop_app; $C reset; $C join_cluster cbq1@localhost; $C start_app) >/dev/null 2>&1
  done
  RMQ_PIDS=""
  for n in 1 2 3; do RMQ_PIDS="$RMQ_PIDS $(tr -d '[:space:]' <"$WORK/rmq/q$n/beam.pid")"; done
}

rmq_stop() {
  for n in 1 2 3; do (rmq_env $n; "$RMQ/rabbitmqctl" -q -n cbq$n@localhost stop >/dev/null 2>&1 || true); done
}

warren_start() {
  mkdir -p "$WORK/warren"
  head -c 32 /dev/urandom | base64 >"$WORK/warren/secret"
  chmod 600 "$WORK/warren/secret"
  WARREN_PIDS=""
  for n in 1 2 3; do
    {
      printf '[server]\nlisten = ["127.0.0.1:%s"]\ndata_dir = "%s"\nlog_level = "warn"\n' \
        $((5692 + n)) "$WORK/warren/node$n"
      printf '[management]\nlisten = []\n[prometheus]\nlisten = []\n'
      printf '[cluster]\nenabled = true\nnode_id = %s\nlisten = "127.0.0.1:%s"\nsecret_file = "%s"\n' \
        $n $((26292 + n)) "$WORK/warren/secret"
      # Slower than the defaults (150, [750, 1500]): on a loaded 2-core box a 150 ms
      # replication timeout made followers drop out under load.
      printf 'heartbeat_ms = %s\nelection_timeout_ms = [%s, %s]\n' "$HEARTBEAT" $((HEARTBEAT * 4)) $((HEARTBEAT * 8))
      for p in 1 2 3; do
        printf '[[cluster.peers]]\nid = %s\ncluster = "127.0.0.1:%s"\namqp = "127.0.0.1:%s"\n' \
          $p $((26292 + p)) $((5692 + p))
      done
    } >"$WORK/warren/node$n.toml"
    setsid nohup "$WARREN" --config "$WORK/warren/node$n.toml" >"$WORK/warren/node$n.log" 2>&1 &
    WARREN_PIDS="$WARREN_PIDS $!"
  done
  for _ in $(seq 1 600); do
    if LEADER=$("$WARREN" --config "$WORK/warren/node1.toml" cluster status --json 2>/dev/null |
      python3 -c 'import json,sys; l=json.load(sys.stdin)["leader"]; print(l) if l else sys.exit(1)' 2>/dev/null); then
      break
    fi
    sleep 0.1
  done
  WARREN_LEADER_PORT=$((5692 + LEADER))
}

warren_stop() {
  for pid in $WARREN_PIDS; do kill "$pid" 2>/dev/null || true; done
  for pid in $WARREN_PIDS; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
}

rss() { # pids -> "a/b/c MiB" RssAnon
  local out=""
  for pid in "$@"; do
    out="$out$(awk '/RssAnon/ {printf "%.1f", $2/1024}' "/proc/$pid/status")/"
  done
  echo "${out%/} MiB"
}

load() { awk '{print $1, $2, $3}' /proc/loadavg; }

ticks() { # pids -> CPU time (user + system) of all of them, in clock ticks
  local t=0
  for pid in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "$t"
}

# declare|delete PORT COUNT: quorum queues idle-1..idle-COUNT.
queues() {
  python3 - "$@" <<'PY'
import sys, pika
action, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1', port, blocked_connection_timeout=600))
ch = c.channel()
for i in range(1, count + 1):
    if action == 'declare':
        ch.queue_declare(f'idle-{i}', durable=True, arguments={'x-queue-type': 'quorum'})
    else:
        ch.queue_delete(f'idle-{i}')
c.close()
PY
}

perf() { # port -> "msg/s p50_ms p99_ms confirmed_total"
  "$PERF" --uri "amqp://guest:guest@127.0.0.1:$1/%2f" --queue-pattern bench-qq --quorum \
    --persistent --size 1024 --confirm 1000 --prefetch 1000 --multi-ack 100 \
    --time "$SECS" --warmup "$WARMUP" --json --quiet $PERF_ARGS |
    python3 -c 'import json,sys; r=json.load(sys.stdin); c=r["confirm_latency_us"]
print(round(r["rates"]["confirmed_msg_s"]), round(c["p50"]/1000, 1), round(c["p99"]/1000, 1), r["totals"]["confirmed"])'
}

# Waits (at most QUIESCE seconds) until the six broker processes together use less than 15%
# of a core over 2 s: RabbitMQ keeps writing its quorum queue's segments and snapshots for a
# while after a run, and that work would otherwise land in the next (Warren's) run.
quiesce() {
  local hz a b waited=0
  hz=$(getconf CLK_TCK)
  while [ "$waited" -lt "$QUIESCE" ]; do
    # shellcheck disable=SC2086
    a=$(ticks $WARREN_PIDS $RMQ_PIDS); sleep 2; b=$(ticks $WARREN_PIDS $RMQ_PIDS)
    waited=$((waited + 2))
    [ $(((b - a) * 100)) -lt $((hz * 2 * 15)) ] && break
  done
  echo "$waited"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

mkdir -p "$WORK"
: >"$RESULTS"; rm -f "$WORK"/warren.runs "$WORK"/rabbitmq.runs
trap 'warren_stop; rmq_stop' EXIT
log "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); SECS=$SECS WARMUP=$WARMUP ROUNDS=$ROUNDS"
case " $BROKERS " in *" rabbitmq "*) rmq_start ;; esac
warren_start
log "RabbitMQ beam.smp pids: $RMQ_PIDS; Warren pids:$WARREN_PIDS (leader on $WARREN_LEADER_PORT)"

for q in 1 "$QUEUES"; do
  [ -z "$RMQ_PIDS" ] || queues declare 5690 "$q"
  queues declare "$WARREN_LEADER_PORT" "$q"
  sleep "$SETTLE"
  # shellcheck disable=SC2086
  log "idle $q quorum queues: warren RssAnon $(rss $WARREN_PIDS), rabbitmq $([ -z "$RMQ_PIDS" ] || rss $RMQ_PIDS); load $(load)"
done
[ -z "$RMQ_PIDS" ] || queues delete 5690 "$QUEUES"
queues delete "$WARREN_LEADER_PORT" "$QUEUES"

for r in $(seq 1 "$ROUNDS"); do
  for broker in $BROKERS; do
    if [ $broker = warren ]; then port=$WARREN_LEADER_PORT pids=$WARREN_PIDS; else port=5690 pids=$RMQ_PIDS; fi
    waited=$(quiesce)
    before=$(load)
    # shellcheck disable=SC2086
    t0=$(ticks $pids)
    result=$(perf "$port") || result="failed"
    # shellcheck disable=SC2086
    t1=$(ticks $pids)
    if [ "$result" != failed ]; then # CPU ms of all 3 nodes per 1,000 confirmed messages
      cpu=$(echo "$result" | awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '{printf "%.1f", t / hz * 1000 / ($4 / 1000)}')
      result="$(echo "$result" | cut -d' ' -f1-3) $cpu"
    fi
    # shellcheck disable=SC2086
    log "round $r $broker: confirmed/s p50_ms p99_ms cpu_ms_per_1000 = $result; RssAnon $(rss $pids); load before $before after $(load); quiesced in ${waited} s"
    [ "$result" = failed ] || echo "$result" >>"$WORK/$broker.runs"
  done
done
for broker in $BROKERS; do
  log "median $broker: $(cut -d' ' -f1 "$WORK/$broker.runs" | median) msg/s, p50 $(cut -d' ' -f2 "$WORK/$broker.runs" | median) ms, p99 $(cut -d' ' -f3 "$WORK/$broker.runs" | median) ms, CPU $(cut -d' ' -f4 "$WORK/$broker.runs" | median) ms per 1,000 confirmed (3 nodes)"
done
