#!/usr/bin/env bash
# Smoke test of the benchmark suite (< 1 min once built, no release build, no measurement):
#   1. the scripts parse (run.sh, smoke.sh, every Python file);
#   2. the FastAPI + Mangum contenders answer their bench events (in-process, when bench/.venv
#      exists; it is created by bench/run.sh);
#   3. the harness starts and drives one cold start and a few warm invocations of each contender
#      it finds binaries for, through the Runtime API emulator: the bench's hello (dev build) and
#      the functions in ../target/debug (what the test command builds), plus the Python
#      contenders when the venv exists.
# Exit status 0 means the harness is runnable; it says nothing about performance.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
TARGET="${BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
FUNCTIONS_BIN="${BENCH_SMOKE_BIN_DIR:-$ROOT/target/debug}"
PY="$BENCH/.venv/bin/python"

bash -n "$BENCH/run.sh" "$BENCH/smoke.sh"
python3 -m py_compile "$BENCH"/python/*.py
echo "bench smoke: scripts parse"

if [[ -x "$PY" ]]; then
  (cd "$BENCH/python" && env -u AWS_ENDPOINT_URL_DYNAMODB -u REQUEST_LOG_TABLE AWS_REGION=us-east-1 "$PY" - "$BENCH/payloads" <<'EOF'
import importlib, json, pathlib, sys, types
payloads = pathlib.Path(sys.argv[1])
context = types.SimpleNamespace(aws_request_id="smoke-1", function_name="smoke", memory_limit_in_mb=128,
                                invoked_function_arn="arn:aws:lambda:local:0:function:smoke",
                                get_remaining_time_in_millis=lambda: 30000)
for module, event in (("generate_app", "generate"), ("score_app", "score")):
    body = payloads.joinpath(f"{event}.json").read_text().replace("__UNIQUE__", "smoke")
    response = importlib.import_module(module).handler(json.loads(body), context)
    assert response["statusCode"] == 200, (module, response)
print("bench smoke: FastAPI + Mangum contenders answer 200")
EOF
  )
else
  echo "bench smoke: no bench/.venv (bench/run.sh creates it); Python contenders not checked"
fi

# The harness and the hello floor, dev profile: workspace members, so the test command's build has
# already made them and this is a no-op there.
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet -p bench-harness -p hello)
python_args=()
[[ -x "$PY" ]] && python_args=(--python "$PY")
if [[ ! -d "$FUNCTIONS_BIN" ]]; then
  echo "bench smoke: $FUNCTIONS_BIN does not exist; only the hello floor is driven"
fi
timeout 60 "$TARGET/debug/bench-harness" --smoke --bench-dir "$BENCH" --bin-dir "$FUNCTIONS_BIN" \
  --bench-bin-dir "$TARGET/debug" "${python_args[@]}" --progress /dev/null > "$TARGET/bench-smoke.log" 2>&1 \
  || { echo "bench smoke: harness failed:"; tail -20 "$TARGET/bench-smoke.log"; exit 1; }
tail -1 "$TARGET/bench-smoke.log"
