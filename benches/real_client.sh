#!/usr/bin/env bash
# Real-client benchmarks: runs the scenarios of issue #11 with `warren-perf` (amqprs, one
# connection per producer and consumer) against Warren (started here as its own process)
# and against RabbitMQ (--rabbit-uri), interleaved run by run so both see the same
# background load, and prints one Markdown table of medians with Warren/RabbitMQ ratios.
#
#   benches/real_client.sh [--seconds 10] [--warmup 2] [--runs 2] [--only a,b,...]
#                          [--rabbit-uri amqp://guest:guest@127.0.0.1:5672/%2f]
#                          [--port 5699] [--out DIR] [--no-build] [--residence]
#
# Scenarios (all 1 KiB unless said; queues named perf-rc-*, deleted after each run):
#   a  1 publisher / 1 consumer, 16 B, transient, auto-ack          delivered msg/s
#   b  1 publisher / 1 consumer, 1 KiB, transient, auto-ack         delivered msg/s
#   c  persistent, confirms (1000 in flight), manual acks, prefetch 1000
#                                                                  confirmed msg/s, confirm p99
#   d  fanout to 10 queues, 10 consumers, auto-ack                   delivered msg/s
#   e  10 publishers / 10 consumers on 10 queues, auto-ack           delivered msg/s
#   f  steady 1,000 msg/s, manual acks, quiet machine                latency p50/p99/p99.9
#   g  as f with a CPU hog beside the broker (stress-ng --cpu 1, or a busy loop)
#   h  400,000 x 1 KiB transient backlog in one queue: one publisher flat out with no consumer
#      (publish msg/s; VmRSS, RssAnon and RssFile at the end of publishing), then one auto-ack
#      consumer drains it (drain msg/s; memory right after and 10 s after the drain), then
#      200 idle connections come and go (memory per idle connection on a broker that has held
#      the backlog; memory 10 s after they closed)
#   i  200 idle connections (one channel and one consumer on its own queue each): RssAnon
#      growth per connection (run first, as by default, on a fresh Warren process)
# --residence captures the broker port with tcpdump during f and g and adds the broker's own
# part of the latency (benches/residence.py: from the publish's last packet in to the
# delivery's last packet out) beside the end-to-end figures, and the clients' share (each
# message's end-to-end latency from warren-perf --latency-log minus its residence).
# Memory is read from /proc/PID/status of the broker (RabbitMQ: the process listening on the
# URI's port, so run this on the RabbitMQ host). Raw JSON documents are kept in --out
# (default target/real_client/<UTC time>).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10 warmup=2 runs=2 only=i,a,b,c,d,e,f,g,h port=5699 build=1 residence=0
rabbit=amqp://guest:guest@127.0.0.1:5672/%2f
out=target/real_client/$(date -u +%Y%m%dT%H%M%SZ)
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --rabbit-uri) rabbit=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --residence) residence=1; shift ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 64 ;;
  esac
done
command -v jq >/dev/null || { echo "jq is needed (apt-get install -y jq)" >&2; exit 69; }
[ $residence = 0 ] || command -v tcpdump >/dev/null || { echo "--residence needs tcpdump (apt-get install -y tcpdump)" >&2; exit 69; }
[ $build = 1 ] && cargo build --release --bin warren --bin warren-perf
mkdir -p "$out"
perf=target/release/warren-perf
warren_uri="amqp://guest:guest@127.0.0.1:$port/%2f"

data=$(mktemp -d) warren_pid= hog_pid= capture_pid=
cleanup() {
  [ -n "$hog_pid" ] && kill "$hog_pid" 2>/dev/null || true
  [ -n "$capture_pid" ] && kill "$capture_pid" 2>/dev/null || true
  [ -n "$warren_pid" ] && kill "$warren_pid" 2>/dev/null && wait "$warren_pid" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
WARREN_MANAGEMENT__LISTEN="" WARREN_PROMETHEUS__LISTEN="" \
  target/release/warren --listen "127.0.0.1:$port" --data-dir "$data" --log-level warn &
warren_pid=$!
# Wait for the listener without connecting to it (a probe connection would log a failed handshake).
for _ in $(seq 100); do ss -ltnH "sport = :$port" | grep -q . && break; sleep 0.1; done
kill -0 "$warren_pid" 2>/dev/null || { echo "Warren did not start (is :$port taken?)" >&2; exit 1; }
echo "Warren pid $warren_pid on :$port; results in $out" >&2

options() { # scenario -> warren-perf options
  local common="--time $seconds --warmup $warmup --json --quiet"
  case $1 in
    a) echo "$common -s 16 --auto-ack --queue-pattern perf-rc-a" ;;
    b) echo "$common -s 1024 --auto-ack --queue-pattern perf-rc-b" ;;
    c) echo "$common -s 1024 --persistent --confirm 1000 --prefetch 1000 --queue-pattern perf-rc-c" ;;
    d) echo "$common -s 1024 --auto-ack -e perf-rc-fanout -t fanout --queues 10 -y 10 --queue-pattern perf-rc-d-%d" ;;
    e) echo "$common -s 1024 --auto-ack -x 10 -y 10 --queues 10 --queue-pattern perf-rc-e-%d" ;;
    f|g) echo "$common -s 1024 --rate 1000 --queue-pattern perf-rc-$1" ;;
  esac
}

start_hog() {
  if command -v stress-ng >/dev/null; then stress-ng --cpu 1 --quiet & else sh -c 'while :; do :; done' & fi
  hog_pid=$!
}

# The process listening on the RabbitMQ URI's port (for its CPU time).
rabbit_port=$(sed -E 's#^[a-z]+://([^@/]*@)?[^:/]*:?([0-9]*).*#\2#' <<<"$rabbit"); rabbit_port=${rabbit_port:-5672}
rabbit_pid=$(ss -ltnpH "sport = :$rabbit_port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
cpu_ticks() { # utime + stime of a process, in clock ticks
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] && awk '{print $14 + $15}' "/proc/$1/stat" || echo 0
}
hz=$(getconf CLK_TCK)

backlog=400000 idle_n=200
mem() { # pid -> the broker's memory in KiB, as JSON
  if [ -n "$1" ] && [ -r "/proc/$1/status" ]; then
    awk '/^VmRSS:/{r=$2} /^RssAnon:/{a=$2} /^RssFile:/{f=$2}
         END{printf "{\"vmrss_kib\":%d,\"rss_anon_kib\":%d,\"rss_file_kib\":%d}\n", r, a, f}' "/proc/$1/status"
  else
    echo '{"vmrss_kib":0,"rss_anon_kib":0,"rss_file_kib":0}'
  fi
}
idle_connections() { # uri pid log -> the broker's memory while $idle_n idle consumers are connected
  $perf --uri "$1" -x 0 -y $idle_n --queues $idle_n --queue-pattern "perf-rc-idle-%d" --time 3 >/dev/null 2>"$3" &
  local p=$! during
  # warren-perf prints its first progress line one second after every consumer is in.
  until [ -s "$3" ] || ! kill -0 $p 2>/dev/null; do sleep 0.1; done
  during=$(mem "$2")
  wait $p
  echo "$during"
}
backlog_run() { # uri pid file: scenario h
  local common="-s 1024 --queue-pattern perf-rc-h --time 600 --json --quiet" m0 m1 m2 m3 m4 m5
  m0=$(mem "$2")
  # shellcheck disable=SC2086
  $perf --uri "$1" $common -x 1 -y 0 --pmessages $backlog --keep-queues >"$3.publish"
  m1=$(mem "$2")
  # shellcheck disable=SC2086
  $perf --uri "$1" $common -x 0 -y 1 --cmessages $backlog --auto-ack >"$3.drain"
  m2=$(mem "$2")
  sleep 10
  m3=$(mem "$2")
  m4=$(idle_connections "$1" "$2" "$3.idle.log")
  sleep 10
  m5=$(mem "$2")
  jq -n --slurpfile p "$3.publish" --slurpfile d "$3.drain" --argjson n $idle_n \
    --argjson m0 "$m0" --argjson m1 "$m1" --argjson m2 "$m2" --argjson m3 "$m3" --argjson m4 "$m4" --argjson m5 "$m5" \
    '{publish: $p[0], drain: $d[0], memory_kib: {before: $m0, published: $m1, drained: $m2, drained_10s: $m3, idle_connected: $m4, idle_closed_10s: $m5},
      idle_kib_per_connection: (($m4.rss_anon_kib - $m3.rss_anon_kib) / $n)}' >"$3"
  rm "$3.publish" "$3.drain" "$3.idle.log"
}
idle_run() { # uri pid file: scenario i
  local m0 m1
  m0=$(mem "$2")
  m1=$(idle_connections "$1" "$2" "$3.idle.log")
  jq -n --argjson n $idle_n --argjson m0 "$m0" --argjson m1 "$m1" \
    '{memory_kib: {before: $m0, idle_connected: $m1}, idle_kib_per_connection: (($m1.rss_anon_kib - $m0.rss_anon_kib) / $n)}' >"$3"
  rm "$3.idle.log"
}

IFS=, read -ra chosen <<<"$only"
for s in "${chosen[@]}"; do
  [ "$s" = g ] && start_hog
  for r in $(seq "$runs"); do
    for target in warren rabbitmq; do
      uri=$warren_uri pid=$warren_pid
      [ $target = rabbitmq ] && uri=$rabbit pid=$rabbit_pid
      case $s in
        h) backlog_run "$uri" "$pid" "$out/$s-$target-$r.json"
           echo "$s $target run $r: $(jq -c '{published: (.publish.rates.published_msg_s|floor), drained: (.drain.rates.delivered_msg_s|floor), memory_kib, idle_kib_per_connection}' "$out/$s-$target-$r.json")" >&2
           continue ;;
        i) idle_run "$uri" "$pid" "$out/$s-$target-$r.json"
           echo "$s $target run $r: $(jq -c . "$out/$s-$target-$r.json")" >&2
           continue ;;
      esac
      capture=
      if [ $residence = 1 ] && { [ "$s" = f ] || [ "$s" = g ]; }; then
        capture="$out/$s-$target-$r.pcap" target_port=$port
        [ $target = rabbitmq ] && target_port=$rabbit_port
        tcpdump -i lo -w "$capture" -s 0 -B 16384 "tcp port $target_port" 2>"$capture.log" &
        capture_pid=$!
        until grep -q listening "$capture.log" 2>/dev/null; do sleep 0.1; done
      fi
      before=$(cpu_ticks "$pid")
      # shellcheck disable=SC2046
      log_opt=
      [ -n "$capture" ] && log_opt="--latency-log $capture.latencies"
      # shellcheck disable=SC2086
      client=$( { TIMEFORMAT='%U + %S'; time $perf --uri "$uri" $(options "$s") $log_opt >"$out/$s-$target-$r.raw.json"; } 2>&1 | tail -1 | bc)
      after=$(cpu_ticks "$pid")
      # CPU time over the whole run (warm-up and drain included) per delivery: the broker's,
      # and the load tool's (it shares the machine's cores with the broker).
      jq --argjson t $((after - before)) --argjson hz "$hz" --argjson c "$client" \
        '. + (if .totals.delivered > 0 then {broker_cpu_us_per_delivery: ($t / $hz * 1e6 / .totals.delivered), client_cpu_us_per_delivery: ($c * 1e6 / .totals.delivered)} else {} end)' \
        "$out/$s-$target-$r.raw.json" >"$out/$s-$target-$r.json" && rm "$out/$s-$target-$r.raw.json"
      if [ -n "$capture" ]; then
        # tcpdump hands packets over in blocks; give the last one time to be written.
        sleep 2; kill -INT $capture_pid; wait $capture_pid || true; capture_pid=
        python3 benches/residence.py "$capture" --port "$target_port" --skip-seconds "$warmup" \
          --latency-log "$capture.latencies" --json --quiet >"$capture.json"
        jq --slurpfile res "$capture.json" '. + {residence_us: $res[0]}' "$out/$s-$target-$r.json" >"$capture.merged" &&
          mv "$capture.merged" "$out/$s-$target-$r.json"
        rm -f "$capture" "$capture.json" "$capture.log" "$capture.latencies"
      fi
      echo "$s $target run $r: $(jq -c '{delivered: (.rates.delivered_msg_s|floor), confirmed: (.rates.confirmed_msg_s|floor), p50: .latency_us.p50, p99: .latency_us.p99, broker_cpu_us: .broker_cpu_us_per_delivery, client_cpu_us: .client_cpu_us_per_delivery}' "$out/$s-$target-$r.json")" >&2
    done
  done
  if [ "$s" = g ]; then kill "$hog_pid"; wait "$hog_pid" 2>/dev/null || true; hog_pid=; fi
done

median() { # scenario target jq-path -> median over runs
  jq -s "[.[] | $3] | sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end" \
    "$out/$1-$2-"*.json
}
row() { # scenario label jq-path unit
  local w r
  w=$(median "$1" warren "$3") r=$(median "$1" rabbitmq "$3")
  jq -rn --argjson w "$w" --argjson r "$r" --arg l "$2" --arg u "$4" \
    'def n: if . < 100 then (. * 100 | round / 100) else floor end;
     "| \($l) | \($w|n) \($u) | \($r|n) \($u) | \(if $w > 0 and $r > 0 then (($w/$r*100|round)/100|tostring) + "x" else "-" end) |"'
}
echo "| scenario | Warren | RabbitMQ | Warren / RabbitMQ |"
echo "|---|---:|---:|---:|"
for s in "${chosen[@]}"; do
  case $s in
    a) row a "1 pub / 1 con, 16 B, transient, auto-ack: delivered" .rates.delivered_msg_s msg/s ;;
    b) row b "1 pub / 1 con, 1 KiB, transient, auto-ack: delivered" .rates.delivered_msg_s msg/s ;;
    c) row c "1 KiB persistent, confirms 1000, manual acks, prefetch 1000: confirmed" .rates.confirmed_msg_s msg/s
       row c "same: confirm p99" .confirm_latency_us.p99 µs ;;
    d) row d "fanout to 10 queues, 10 consumers, 1 KiB: delivered" .rates.delivered_msg_s msg/s ;;
    e) row e "10 pub / 10 con on 10 queues, 1 KiB: delivered" .rates.delivered_msg_s msg/s ;;
    f|g) label="1,000 msg/s, 1 KiB, manual acks"; [ $s = g ] && label="$label, CPU hog"
       row "$s" "$label: p50" .latency_us.p50 µs
       row "$s" "$label: p99" .latency_us.p99 µs
       row "$s" "$label: p99.9" .latency_us.p99_9 µs
       if [ $residence = 1 ]; then
         for q in p50 p99 p99_9; do row "$s" "$label: broker residence ${q/_/.}" ".residence_us.$q" µs; done
         for q in p50 p99 p99_9; do row "$s" "$label: clients' share ${q/_/.} (end to end minus residence)" ".residence_us.clients_share.$q" µs; done
       fi ;;
    h) row h "400,000 x 1 KiB backlog, one publisher, no consumer: published" .publish.rates.published_msg_s msg/s
       row h "same, then one auto-ack consumer: drained" .drain.rates.delivered_msg_s msg/s
       for at in published:"at the end of publishing" drained:"right after the drain" drained_10s:"10 s after the drain" idle_closed_10s:"10 s after $idle_n idle connections came and went"; do
         for kind in rss_anon:RssAnon rss_file:RssFile vmrss:VmRSS; do
           row h "broker ${kind#*:} ${at#*:}" "(.memory_kib.${at%%:*}.${kind%%:*}_kib / 1024)" MiB
         done
       done
       row h "memory per idle connection after the backlog" .idle_kib_per_connection KiB ;;
    i) row i "memory per idle connection (one channel, one consumer, its queue)" .idle_kib_per_connection KiB
       row i "broker RssAnon before them" "(.memory_kib.before.rss_anon_kib / 1024)" MiB ;;
  esac
done
echo
echo "CPU time per delivery (whole run, warm-up and drain included), broker and load tool:"
echo "| scenario | Warren | RabbitMQ | Warren / RabbitMQ |"
echo "|---|---:|---:|---:|"
for s in "${chosen[@]}"; do
  case $s in h|i) continue ;; esac
  row "$s" "$s: broker" '.broker_cpu_us_per_delivery // 0' µs
  row "$s" "$s: warren-perf" '.client_cpu_us_per_delivery // 0' µs
done
