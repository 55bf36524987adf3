#!/usr/bin/env bash
# Runs real AMQP 0-9-1 client libraries against a broker.
#
#   interop/run.sh [--uri AMQP_URI] [--only CLIENT[,CLIENT...]] [--list]
#
# Without --uri it builds Warren (cargo build --release; or uses $INTEROP_WARREN_BIN if set), starts it
# on a free loopback port with a throw-away data directory, and stops it at exit; WARREN_*
# variables (e.g. WARREN_AMQP__HEARTBEAT) reach it unchanged. With --uri it targets that broker.
# Every scenario is a standalone program that reads AMQP_URI and exits 0 on success.
# Output: one "PASS|FAIL client/scenario (secs)" line each, then "N passed, N failed".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="$HERE/.cache"
SCENARIO_TIMEOUT="${INTEROP_TIMEOUT:-120}"

# Clients in the order they run: "name language-needs directory".
CLIENTS=(
  "pika python python/pika"
  "pika-select python python/pika-select"
  "pika-asyncio python python/pika-asyncio"
  "aio-pika python python/aio-pika"
  "amqplib-callback node node/amqplib-callback"
  "amqplib-promise node node/amqplib-promise"
  "amqp-client node node/amqp-client"
  "cross-language python+node cross"
  "kombu python python/kombu"
  "celery python python/celery"
  "scenarios python python/scenarios"
)

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo "Clients: $(for c in "${CLIENTS[@]}"; do printf '%s ' "${c%% *}"; done)"
}

URI=""
ONLY=""
LIST=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --uri) URI="${2:?--uri needs a value}"; shift 2 ;;
    --uri=*) URI="${1#--uri=}"; shift ;;
    --only) ONLY="${2:?--only needs a value}"; shift 2 ;;
    --only=*) ONLY="${1#--only=}"; shift ;;
    --list) LIST=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

# ---- which scenarios run ----------------------------------------------------------------
selected=()   # entries "client<TAB>path"
need_python=0
need_node=0
for entry in "${CLIENTS[@]}"; do
  read -r name needs dir <<<"$entry"
  if [[ -n "$ONLY" && ",$ONLY," != *",$name,"* ]]; then continue; fi
  for f in "$HERE/$dir"/*.py "$HERE/$dir"/*.js; do
    [[ -f "$f" ]] || continue
    selected+=("$name"$'\t'"$f")
  done
  [[ "$needs" == *python* ]] && need_python=1
  [[ "$needs" == *node* ]] && need_node=1
done
if [[ ${#selected[@]} -eq 0 ]]; then
  echo "run.sh: no scenario matches --only '$ONLY'" >&2
  usage >&2
  exit 2
fi
if [[ $LIST -eq 1 ]]; then
  for s in "${selected[@]}"; do
    f="${s#*$'\t'}"; b="$(basename "$f")"; echo "${s%%$'\t'*}/${b%.*}"
  done
  exit 0
fi

# ---- pinned clients in interop/.cache ---------------------------------------------------
stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

setup_python() {
  local venv="$CACHE/venv" want
  want="$(stamp_of "$HERE/python/requirements.txt")"
  if [[ -x "$venv/bin/python" && "$(cat "$venv/.interop-stamp" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  echo "interop: installing pinned Python clients into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/python/requirements.txt" >&2
  echo "$want" >"$venv/.interop-stamp"
}

setup_node() {
  local dir="$CACHE/node" want
  want="$(stamp_of "$HERE/node/package.json" "$HERE/node/package-lock.json")"
  if [[ -d "$dir/node_modules" && "$(cat "$dir/.interop-stamp" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  echo "interop: installing pinned Node clients into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$HERE/node/package.json" "$HERE/node/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" >"$dir/.interop-stamp"
}

mkdir -p "$CACHE"
[[ $need_python -eq 1 ]] && setup_python
[[ $need_node -eq 1 ]] && setup_node

# ---- the broker ---------------------------------------------------------------------------
WARREN_PID=""
WARREN_DATA=""
WARREN_LOG=""
OUT_DIR="$(mktemp -d "${TMPDIR:-/tmp}/warren-interop.XXXXXX")"

cleanup() {
  if [[ -n "$WARREN_PID" ]] && kill -0 "$WARREN_PID" 2>/dev/null; then
    kill "$WARREN_PID" 2>/dev/null || true
    # Bounded wait for a clean shutdown, then force.
    for _ in $(seq 1 50); do kill -0 "$WARREN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$WARREN_PID" 2>/dev/null || true
    wait "$WARREN_PID" 2>/dev/null || true
  fi
  [[ -n "$WARREN_DATA" ]] && rm -rf "$WARREN_DATA"
  rm -rf "$OUT_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_warren() {
  local bin="${INTEROP_WARREN_BIN:-}"
  if [[ -z "$bin" ]]; then
    echo "interop: building Warren (cargo build --release)" >&2
    (cd "$ROOT" && cargo build --release --quiet --bin warren >&2)
    bin="${CARGO_TARGET_DIR:-$ROOT/target}/release/warren"
  fi
  [[ -x "$bin" ]] || { echo "interop: no binary at $bin" >&2; exit 2; }
  local port
  port="$(free_port)"
  WARREN_DATA="$(mktemp -d "${TMPDIR:-/tmp}/warren-interop-data.XXXXXX")"
  WARREN_LOG="$WARREN_DATA/warren.log"
  # WARREN_* variables in the environment (e.g. WARREN_AMQP__HEARTBEAT) pass through.
  "$bin" --listen "127.0.0.1:$port" --data-dir "$WARREN_DATA/data" --log-level warn \
    >"$WARREN_LOG" 2>&1 &
  WARREN_PID=$!
  # Readiness: poll the port (bounded), failing fast if the process exits.
  local deadline=$((SECONDS + 30))
  until port_open "$port"; do
    if ! kill -0 "$WARREN_PID" 2>/dev/null; then
      echo "interop: warren exited before accepting connections:" >&2
      sed 's/^/    /' "$WARREN_LOG" | head -40 >&2
      exit 2
    fi
    if ((SECONDS >= deadline)); then
      echo "interop: warren did not accept connections on port $port within 30s" >&2
      exit 2
    fi
    sleep 0.05
  done
  URI="amqp://guest:guest@127.0.0.1:$port/%2F"
  echo "interop: warren pid $WARREN_PID on 127.0.0.1:$port" >&2
}

[[ -z "$URI" ]] && start_warren

# ---- run ----------------------------------------------------------------------------------
export AMQP_URI="$URI"
export PYTHONPATH="$HERE/python/lib${PYTHONPATH:+:$PYTHONPATH}"
export NODE_PATH="$CACHE/node/node_modules:$HERE/node/lib"
export INTEROP_DIR="$HERE"
export INTEROP_PYTHON="$CACHE/venv/bin/python"
export PATH="$CACHE/venv/bin:$PATH"
export PYTHONUNBUFFERED=1

passed=0
failed=0
for s in "${selected[@]}"; do
  client="${s%%$'\t'*}"
  file="${s#*$'\t'}"
  base="$(basename "$file")"
  label="$client/${base%.*}"
  case "$file" in
    *.py) cmd=("$INTEROP_PYTHON" "$file") ;;
    *.js) cmd=(node "$file") ;;
  esac
  out="$OUT_DIR/out.txt"
  start_ns=$(date +%s%N)
  rc=0
  (cd "$(dirname "$file")" && timeout --kill-after=10 "$SCENARIO_TIMEOUT" "${cmd[@]}") \
    </dev/null >"$out" 2>&1 || rc=$?
  end_ns=$(date +%s%N)
  secs=$(awk -v a="$start_ns" -v b="$end_ns" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  if [[ $rc -eq 0 ]]; then
    passed=$((passed + 1))
    echo "PASS $label (${secs}s)"
  else
    failed=$((failed + 1))
    why="exit $rc"
    [[ $rc -eq 124 || $rc -eq 137 ]] && why="timed out after ${SCENARIO_TIMEOUT}s"
    echo "FAIL $label (${secs}s, $why)"
    # The first lines of output, and the end (where a traceback's message is).
    if [[ $(wc -l <"$out") -le 30 ]]; then
      sed 's/^/    /' "$out"
    else
      head -n 8 "$out" | sed 's/^/    /'
      echo "    ..."
      tail -n 20 "$out" | sed 's/^/    /'
    fi
    if [[ -n "$WARREN_PID" ]] && ! kill -0 "$WARREN_PID" 2>/dev/null; then
      echo "    warren is no longer running; its log ends with:"
      tail -n 20 "$WARREN_LOG" | sed 's/^/    | /'
      WARREN_PID=""
    fi
  fi
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
