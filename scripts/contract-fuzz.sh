#!/usr/bin/env bash
# Contract fuzzing: schemathesis generates requests for every route of the committed
# openapi.json and sends them to the local API, then checks every response against the document.
#
# It fails on any server error, any response that does not match its documented status, media
# type, headers or schema, any invalid request that is accepted, and any valid request that is
# rejected. The seed is fixed, so a run is reproducible; the number of cases per route is printed
# at the end. Reports (JUnit, VCR cassette of every request) go to target/contract-fuzz/.
#
# Usage: scripts/contract-fuzz.sh            (needs scripts/setup.sh to have run)
# Knobs: CONTRACT_FUZZ_SEED (default 20261126), CONTRACT_FUZZ_EXAMPLES (per operation and phase,
#        default 100), CONTRACT_FUZZ_WORKERS (default 1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/contract-fuzz"
SCHEMATHESIS="$ROOT/.tools/venv-fuzz/bin/schemathesis"
SEED="${CONTRACT_FUZZ_SEED:-20261126}"
EXAMPLES="${CONTRACT_FUZZ_EXAMPLES:-100}"
# One worker: hypothesis on CPython 3.11 hits "AST constructor recursion depth mismatch" (a
# thread-safety bug of the interpreter) with several; the run is short enough without them.
WORKERS="${CONTRACT_FUZZ_WORKERS:-1}"

[ -x "$SCHEMATHESIS" ] || { echo "contract-fuzz: $SCHEMATHESIS is missing; run scripts/setup.sh" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT"

cargo build --workspace --quiet

# --- the API under test ---------------------------------------------------------------------
# The local stack: DynamoDB Local with the template's tables and the local API in front of the
# real function binaries (scripts/stack.sh), so the feedback routes are exercised for real.
start_api() {
  "$ROOT/scripts/stack.sh" start "$OUT/stack"
  API_URL="$(cat "$OUT/stack/api_url")"
}
stop_api() {
  "$ROOT/scripts/stack.sh" stop "$OUT/stack" 2>/dev/null || true
}
trap stop_api EXIT
start_api

# --- the run --------------------------------------------------------------------------------
# Checks: all of them, except
# - ignored_auth: it expects requests without `x-api-key` to be refused. API Gateway refuses them
#   in AWS (`ApiKeyRequired` in template.yaml, checked against the document by tests/contract);
#   the functions never see the key and the local API, like `cargo lambda watch`, does not
#   emulate API keys. A dummy key is sent so that every request is what a real client sends.
# - missing_required_header: the same check from the other side (it drops required headers and
#   expects a 4xx); the only required request header in the document is that API key.
status=0
CONTRACT_FUZZ_COUNTS="$OUT/cases.json" \
SCHEMATHESIS_HOOKS="contract_fuzz_hooks" \
PYTHONPATH="$ROOT/tests/contract" \
"$SCHEMATHESIS" --config-file tests/contract/schemathesis.toml \
  run openapi.json \
  --url "$API_URL" \
  --checks all \
  --exclude-checks ignored_auth,missing_required_header \
  --header "x-api-key: local-contract-fuzz" \
  --seed "$SEED" \
  --max-examples "$EXAMPLES" \
  --generation-database none \
  --workers "$WORKERS" \
  --continue-on-failure \
  --request-timeout 30 \
  --report junit,vcr --report-dir "$OUT" \
  --no-color \
  >"$OUT/schemathesis.log" 2>&1 || status=$?
stop_api

cat "$OUT/schemathesis.log"
echo
echo "Cases sent per route (seed $SEED, up to $EXAMPLES examples per operation and phase):"
python3 - "$OUT/cases.json" <<'PY'
import collections, json, sys
try:
    rows = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    sys.exit("  (no counts: schemathesis did not run the hooks)")
by_op = collections.defaultdict(collections.Counter)
for r in rows:
    by_op[r["operation"]][r["mode"]] += r["cases"]
print(f"  {'route':<34} {'valid':>7} {'invalid':>8} {'total':>7}")
for op in sorted(by_op):
    c = by_op[op]
    print(f"  {op:<34} {c['positive']:>7} {c['negative']:>8} {sum(c.values()):>7}")
print(f"  {'all routes':<34} {sum(c['positive'] for c in by_op.values()):>7} "
      f"{sum(c['negative'] for c in by_op.values()):>8} {sum(sum(c.values()) for c in by_op.values()):>7}")
PY
if [ "$status" -ne 0 ]; then
  echo "contract-fuzz: FAILED (schemathesis exit $status); requests in $OUT/vcr-*.yaml, function logs in $OUT/stack/api.log" >&2
fi
exit "$status"
