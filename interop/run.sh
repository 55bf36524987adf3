#!/usr/bin/env bash
# Runs real AMQP 0-9-1 client libraries against a broker.
#
#   interop/run.sh [--uri AMQP_URI [--amqps-uri AMQPS_URI] [--mgmt-url URL]] [--only CLIENT[,CLIENT...]] [--list]
#
# Without --uri it builds Warren (cargo build --release; or uses $INTEROP_WARREN_BIN if set), starts it
# on a free loopback port (its management API on another) with a throw-away data directory, and
# stops it at exit; WARREN_* variables (e.g. WARREN_AMQP__HEARTBEAT) reach it unchanged. With
# --uri it targets that broker, whose management API is --mgmt-url (default
# http://localhost:15672).
# The started Warren also gets an AMQPS listener with a throw-away CA (interop/tls/pki); the
# "tls" scenarios use it. Against another broker they need --amqps-uri and INTEROP_TLS_DIR
# (ca.pem, client.pem, client-key.pem; EXTERNAL must map the client's CN, guest, to a user).
# Every scenario is a standalone program that reads AMQP_URI (and MGMT_URL, http://host:port
# of the management API) and exits 0 on success.
# Output: one "SETUP family (secs)" line per toolchain, one "PASS|FAIL client/scenario (secs)"
# line each (a toolchain that cannot be installed or built is one FAIL line), then
# "N passed, N failed".
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
  "amqplib-callback node+python node/amqplib-callback"
  "amqplib-promise node+python node/amqplib-promise"
  "amqp-client node+python node/amqp-client"
  "cross-language python+node cross"
  "kombu python python/kombu"
  "celery python python/celery"
  "pika-scenarios python python/scenarios"
  "lapin rust+python rust/lapin"
  "amqprs rust+python rust/amqprs"
  "amqp-tools c-tools+python c/amqp-tools"
  "rabbitmq-java java+python java/rabbitmq-java"
  "amqp091-go go+python go/amqp091-go"
  "amqp091-go-suite go go/suite"
  "tls python+node tls"
  "tls-java java+python java/tls"
  "tls-go go+python go/tls"
  "rabbitmqadmin admin admin/rabbitmqadmin"
  "nagios monitoring admin/nagios"
  "ui python+ui ui"
)
# Toolchain families, in setup order; each has a setup_<family> function below.
FAMILIES=(python node rust c-tools java go admin monitoring ui)

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo "Clients: $(for c in "${CLIENTS[@]}"; do printf '%s ' "${c%% *}"; done)"
}

URI=""
AMQPS_URI="${AMQPS_URI:-}"
MGMT_URL=""
ONLY=""
LIST=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --uri) URI="${2:?--uri needs a value}"; shift 2 ;;
    --uri=*) URI="${1#--uri=}"; shift ;;
    --amqps-uri) AMQPS_URI="${2:?--amqps-uri needs a value}"; shift 2 ;;
    --amqps-uri=*) AMQPS_URI="${1#--amqps-uri=}"; shift ;;
    --mgmt-url) MGMT_URL="${2:?--mgmt-url needs a value}"; shift 2 ;;
    --mgmt-url=*) MGMT_URL="${1#--mgmt-url=}"; shift ;;
    --only) ONLY="${2:?--only needs a value}"; shift 2 ;;
    --only=*) ONLY="${1#--only=}"; shift ;;
    --list) LIST=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

# ---- which scenarios run ----------------------------------------------------------------
selected=()   # entries "client<TAB>needs<TAB>path"
declare -A needed=()
for entry in "${CLIENTS[@]}"; do
  read -r name needs dir <<<"$entry"
  if [[ -n "$ONLY" && ",$ONLY," != *",$name,"* ]]; then continue; fi
  if [[ $name == ui && -n "$URI" ]]; then
    echo "interop: ui is not run: --uri names another broker, and it tests Warren's own web UI" >&2
    continue
  fi
  if [[ $name == tls* && -n "$URI" && -z "$AMQPS_URI" ]]; then
    echo "interop: $name is not run: --uri was given without --amqps-uri" >&2
    continue
  fi
  for f in "$HERE/$dir"/*.py "$HERE/$dir"/*.js "$HERE/$dir"/*.rs "$HERE/$dir"/*.sh \
    "$HERE/$dir"/*.java "$HERE/$dir"/*.go; do
    [[ -f "$f" ]] || continue
    selected+=("$name"$'\t'"$needs"$'\t'"$f")
  done
  IFS=+ read -ra parts <<<"$needs"
  for part in "${parts[@]}"; do needed[$part]=1; done
done
if [[ ${#selected[@]} -eq 0 ]]; then
  echo "run.sh: no scenario matches --only '$ONLY'" >&2
  usage >&2
  exit 2
fi
if [[ $LIST -eq 1 ]]; then
  for s in "${selected[@]}"; do
    f="${s##*$'\t'}"; b="$(basename "$f")"; echo "${s%%$'\t'*}/${b%.*}"
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
  python3 -m venv "$venv" >&2 || return 1
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/python/requirements.txt" >&2 \
    || return 1
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
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) || return 1
  echo "$want" >"$dir/.interop-stamp"
}

# Debian packages for the C, Java and Go families. Installed when missing (root only);
# `apt-get update` runs once, only if an install fails (e.g. stale or empty package lists).
APT_UPDATED=0
apt_ensure() {
  local missing=() p
  for p in "$@"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "interop: missing Debian packages (install them as root): ${missing[*]}" >&2
    return 1
  fi
  echo "interop: apt-get install ${missing[*]}" >&2
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends
    -o DPkg::Lock::Timeout=600)
  if ! "${apt[@]}" install "${missing[@]}" >&2; then
    [[ $APT_UPDATED -eq 1 ]] && return 1
    APT_UPDATED=1
    env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 update >&2 || return 1
    "${apt[@]}" install "${missing[@]}" >&2 || return 1
  fi
}

deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

# Rust: lapin and amqprs, one binary per scenario (interop/rust/Cargo.toml, Cargo.lock).
setup_rust() {
  command -v cargo >/dev/null || { echo "interop: cargo not found" >&2; return 1; }
  (cd "$HERE/rust" && CARGO_TARGET_DIR="$CACHE/rust-target" \
    cargo build --release --locked --quiet >&2)
}

# C: rabbitmq-c's command-line tools.
setup_c-tools() {
  apt_ensure amqp-tools || return 1
  SETUP_NOTE="amqp-tools $(deb_version amqp-tools)"
}

# Java: RabbitMQ's Java client from Debian, scenarios compiled with javac.
JAVA_CP=""
setup_java() {
  apt_ensure default-jdk-headless librabbitmq-client-java libslf4j-java || return 1
  local jar slf4j nop
  jar="$(dpkg -L librabbitmq-client-java | grep -m1 '^/usr/share/java/amqp-client.jar$')" || true
  slf4j="$(dpkg -L libslf4j-java | grep -m1 '/slf4j-api.jar$')" || true
  nop="$(dpkg -L libslf4j-java | grep -m1 '/slf4j-nop.jar$')" || true
  [[ -f "$jar" && -f "$slf4j" && -f "$nop" ]] || {
    echo "interop: amqp-client.jar or slf4j jars not found" >&2; return 1; }
  JAVA_CP="$jar:$slf4j:$nop"
  local out="$CACHE/java-classes" want
  want="$(cat "$HERE"/java/lib/*.java "$HERE"/java/rabbitmq-java/*.java "$HERE"/java/tls/*.java \
    <(echo "$JAVA_CP") \
    <(deb_version librabbitmq-client-java) <(javac -version 2>&1) | sha256sum | cut -d' ' -f1)"
  if [[ "$(cat "$out/.interop-stamp" 2>/dev/null)" != "$want" ]]; then
    rm -rf "$out" && mkdir -p "$out"
    javac -Xlint:all -Werror -d "$out" -cp "$JAVA_CP" "$HERE"/java/lib/*.java \
      "$HERE"/java/rabbitmq-java/*.java "$HERE"/java/tls/*.java >&2 || return 1
    echo "$want" >"$out/.interop-stamp"
  fi
  SETUP_NOTE="librabbitmq-client-java $(deb_version librabbitmq-client-java)"
}

# Go: amqp091-go from Debian, built in GOPATH mode offline (no module proxy).
setup_go() {
  apt_ensure golang-go golang-github-rabbitmq-amqp091-go-dev || return 1
  mkdir -p "$CACHE/go-bin"
  local f
  for f in "$HERE"/go/amqp091-go/*.go "$HERE"/go/tls/*.go; do
    (cd "$(dirname "$f")" && GO111MODULE=off GOFLAGS= GOPROXY=off \
      GOPATH="$HERE/go:/usr/share/gocode" GOCACHE="$CACHE/go-build" \
      go build -o "$CACHE/go-bin/$(basename "$f" .go)" "$(basename "$f")" >&2) || return 1
  done
  SETUP_NOTE="golang-github-rabbitmq-amqp091-go-dev $(deb_version golang-github-rabbitmq-amqp091-go-dev)"
}

# The management API's command line: RabbitMQ's classic rabbitmqadmin script, as Debian's
# rabbitmq-server package ships it (the management plugin's priv/www/cli/rabbitmqadmin). An
# installed package's copy is used; otherwise the package is downloaded and unpacked into
# interop/.cache (never installed, so no RabbitMQ is started). It runs with the system python3.
RABBITMQADMIN=""
setup_admin() {
  command -v python3 >/dev/null || { echo "interop: python3 not found" >&2; return 1; }
  local script=""
  if [[ "$(dpkg-query -W -f='${Status}' rabbitmq-server 2>/dev/null)" == "install ok installed" ]]; then
    script="$(dpkg -L rabbitmq-server | grep -m1 '/priv/www/cli/rabbitmqadmin$')" || true
    SETUP_NOTE="rabbitmq-server $(deb_version rabbitmq-server), installed"
  else
    local dir="$CACHE/rabbitmq-server"
    script="$(find "$dir/root" -path '*/priv/www/cli/rabbitmqadmin' 2>/dev/null | head -n1)" || true
    if [[ -z "$script" ]]; then
      rm -rf "$dir" && mkdir -p "$dir/root"
      echo "interop: apt-get download rabbitmq-server (unpacked, not installed)" >&2
      if ! (cd "$dir" && apt-get download -q rabbitmq-server >&2); then
        env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 update >&2 \
          || return 1
        (cd "$dir" && apt-get download -q rabbitmq-server >&2) || return 1
      fi
      dpkg-deb -x "$dir"/rabbitmq-server_*.deb "$dir/root" >&2 || return 1
      script="$(find "$dir/root" -path '*/priv/www/cli/rabbitmqadmin' | head -n1)"
    fi
    SETUP_NOTE="rabbitmq-server $(basename "$(ls "$dir"/rabbitmq-server_*.deb 2>/dev/null | head -n1)" .deb), unpacked"
  fi
  [[ -f "$script" ]] || { echo "interop: rabbitmqadmin not found in rabbitmq-server" >&2; return 1; }
  RABBITMQADMIN="$script"
}

# Monitoring checks as a Nagios or Icinga host runs them: Debian's nagios-plugins-rabbitmq
# (Perl scripts over LWP), unmodified.
setup_monitoring() {
  command -v python3 >/dev/null || { echo "interop: python3 not found" >&2; return 1; }
  apt_ensure nagios-plugins-rabbitmq || return 1
  SETUP_NOTE="nagios-plugins-rabbitmq $(deb_version nagios-plugins-rabbitmq)"
}

# The web UI's browser tests: Debian's chromium and chromium-driver, and Selenium (pinned in
# interop/ui/requirements.txt) added to the Python family's venv, which the scenario runs in.
setup_ui() {
  apt_ensure chromium chromium-driver || return 1
  local venv="$CACHE/venv" want
  want="$(stamp_of "$HERE/ui/requirements.txt")"
  if [[ "$(cat "$venv/.interop-ui-stamp" 2>/dev/null)" != "$want" ]]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/ui/requirements.txt" >&2 \
      || return 1
    echo "$want" >"$venv/.interop-ui-stamp"
  fi
  SETUP_NOTE="chromium $(deb_version chromium)"
}

mkdir -p "$CACHE"
OUT_DIR="$(mktemp -d "${TMPDIR:-/tmp}/warren-interop.XXXXXX")"
passed=0
failed=0
declare -A setup_failed=()

# Print the start and end of a log file, indented.
show_log() {
  if [[ $(wc -l <"$1") -le 30 ]]; then
    sed 's/^/    /' "$1"
  else
    head -n 8 "$1" | sed 's/^/    /'
    echo "    ..."
    tail -n 20 "$1" | sed 's/^/    /'
  fi
}

# Sets up each needed family; one SETUP line each with its time, or a FAIL line.
for family in "${FAMILIES[@]}"; do
  [[ -n "${needed[$family]:-}" ]] || continue
  SETUP_NOTE=""
  log="$OUT_DIR/setup-$family.txt"
  start_ns=$(date +%s%N)
  rc=0
  "setup_$family" 2>"$log" || rc=$?
  secs=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  if [[ $rc -eq 0 ]]; then
    echo "SETUP $family (${secs}s${SETUP_NOTE:+, $SETUP_NOTE})"
  else
    setup_failed[$family]=1
    failed=$((failed + 1))
    echo "FAIL setup/$family (${secs}s, exit $rc; its scenarios are not run)"
    show_log "$log"
  fi
done

# ---- the broker ---------------------------------------------------------------------------
WARREN_PID=""
WARREN_DATA=""
WARREN_LOG=""

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
  local port mgmt_port
  port="$(free_port)"
  # The management API on a free port unless the environment names its address.
  local mgmt_listen="${WARREN_MANAGEMENT__LISTEN-127.0.0.1:$(free_port)}"
  mgmt_port="${mgmt_listen##*:}"
  WARREN_DATA="$(mktemp -d "${TMPDIR:-/tmp}/warren-interop-data.XXXXXX")"
  WARREN_LOG="$WARREN_DATA/warren.log"
  # An AMQPS listener with a throw-away CA; clients with a certificate may use EXTERNAL.
  local tls_port
  tls_port="$(free_port)"
  export INTEROP_TLS_DIR="$WARREN_DATA/tls"
  bash "$HERE/tls/pki/make-pki.sh" "$INTEROP_TLS_DIR" >&2
  # WARREN_* variables in the environment (e.g. WARREN_AMQP__HEARTBEAT) pass through.
  # The HTTP listeners take free ports unless the environment names them.
  WARREN_MANAGEMENT__LISTEN="$mgmt_listen" \
  WARREN_PROMETHEUS__LISTEN="${WARREN_PROMETHEUS__LISTEN-127.0.0.1:0}" \
  WARREN_TLS__LISTEN="127.0.0.1:$tls_port" \
    WARREN_TLS__CERTFILE="$INTEROP_TLS_DIR/server.pem" \
    WARREN_TLS__KEYFILE="$INTEROP_TLS_DIR/server-key.pem" \
    WARREN_TLS__CACERTFILE="$INTEROP_TLS_DIR/ca.pem" \
    WARREN_TLS__VERIFY=verify_peer \
    WARREN_AUTH__MECHANISMS="${WARREN_AUTH__MECHANISMS:-PLAIN,AMQPLAIN,EXTERNAL}" \
    WARREN_AUTH__SSL_CERT_LOGIN_FROM=common_name \
    "$bin" --listen "127.0.0.1:$port" --data-dir "$WARREN_DATA/data" --log-level warn \
    >"$WARREN_LOG" 2>&1 &
  WARREN_PID=$!
  # Readiness: poll the port (bounded), failing fast if the process exits.
  local deadline=$((SECONDS + 30))
  until port_open "$port" && port_open "$mgmt_port"; do
    if ! kill -0 "$WARREN_PID" 2>/dev/null; then
      echo "interop: warren exited before accepting connections:" >&2
      sed 's/^/    /' "$WARREN_LOG" | head -40 >&2
      exit 2
    fi
    if ((SECONDS >= deadline)); then
      echo "interop: warren did not accept connections on ports $port and $mgmt_port within 30s" >&2
      exit 2
    fi
    sleep 0.05
  done
  URI="amqp://guest:guest@127.0.0.1:$port/%2F"
  AMQPS_URI="amqps://guest:guest@127.0.0.1:$tls_port/%2F"
  MGMT_URL="http://127.0.0.1:$mgmt_port"
  echo "interop: warren pid $WARREN_PID on 127.0.0.1:$port, management API $MGMT_URL, AMQPS on $tls_port" >&2
}

[[ -z "$URI" ]] && start_warren

# ---- run ----------------------------------------------------------------------------------
export AMQP_URI="$URI"
export AMQPS_URI
export MGMT_URL="${MGMT_URL:-http://localhost:15672}"
export RABBITMQADMIN
export PYTHONPATH="$HERE/python/lib${PYTHONPATH:+:$PYTHONPATH}"
export NODE_PATH="$CACHE/node/node_modules:$HERE/node/lib"
export INTEROP_DIR="$HERE"
export INTEROP_PYTHON="$CACHE/venv/bin/python"
export PATH="$CACHE/venv/bin:$PATH"
export PYTHONUNBUFFERED=1

for s in "${selected[@]}"; do
  client="${s%%$'\t'*}"
  rest="${s#*$'\t'}"
  needs="${rest%%$'\t'*}"
  file="${rest#*$'\t'}"
  base="$(basename "$file")"
  label="$client/${base%.*}"
  skip=0
  IFS=+ read -ra parts <<<"$needs"
  for part in "${parts[@]}"; do [[ -n "${setup_failed[$part]:-}" ]] && skip=1; done
  [[ $skip -eq 1 ]] && continue
  case "$file" in
    *.py) cmd=("$INTEROP_PYTHON" "$file") ;;
    *.js) cmd=(node "$file") ;;
    *.rs) cmd=("$CACHE/rust-target/release/$client-${base%.rs}") ;;
    *.sh) cmd=(bash "$file") ;;
    *.java) cmd=(java -cp "$CACHE/java-classes:$JAVA_CP" "${base%.java}") ;;
    *.go) cmd=("$CACHE/go-bin/${base%.go}") ;;
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
    show_log "$out"
    if [[ -n "$WARREN_PID" ]] && ! kill -0 "$WARREN_PID" 2>/dev/null; then
      echo "    warren is no longer running; its log ends with:"
      tail -n 20 "$WARREN_LOG" | sed 's/^/    | /'
      WARREN_PID=""
    fi
  fi
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
