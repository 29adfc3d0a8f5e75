#!/usr/bin/env bash
# The test command: installs what it needs (idempotent), then runs every check that gates a
# change: formatting, dependency policy, lints, unit tests, handler tests over events/,
# integration tests against DynamoDB Local and the real binaries, template lint, the template's
# security scan, contract fuzzing and the docs page check.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export SAM_CLI_TELEMETRY=0
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# One build per run: incremental caches would only add ~0.7 GB of disk for nothing (set
# CARGO_INCREMENTAL=1 to keep them while iterating).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

stage() { echo; echo "==> $*"; }

# A cold run writes about 3 GiB (tools 1.1 GiB, target/ about 1.8 GiB). Say so up front, so that
# a "No space left on device" from rustc later on is explained (a warning, not a refusal: the
# estimate is not exact, and a run that fits should not be stopped by it).
need_mib=3000
have_mib="$(df -Pm "$ROOT" | awk 'NR == 2 { print $4 }')"
built_mib="$( (du -sm "${CARGO_TARGET_DIR:-$ROOT/target}" "$ROOT/.tools" 2>/dev/null || true) | awk '{ s += $1 } END { print s + 0 }')"
if (( have_mib + built_mib < need_mib )); then
  echo "warning: low disk space: a full run needs about ${need_mib} MiB under $ROOT (target/ and" \
       ".tools/); ${built_mib} MiB of it is already there and only ${have_mib} MiB is free." >&2
fi

stage "setup (Python tools, DynamoDB Local, model files)"
scripts/setup.sh

stage "cargo fmt --check"
cargo fmt --all -- --check

# deny.toml says what is checked and why advisories are not (they need a database from GitHub).
# cargo-deny reads the manifests of every locked crate, for every platform: fetch them first (a
# no-op when they are cached), so that the check itself runs offline.
stage "cargo deny: licences, bans, sources (offline)"
cargo fetch --locked -q
.tools/cargo-deny/bin/cargo-deny --offline check licenses bans sources \
  || { echo "cargo deny failed: see the errors above and the policy in deny.toml" >&2; exit 1; }

stage "cargo clippy (warnings are errors)"
cargo clippy -q --workspace --all-targets -- -D warnings

stage "build the function binaries"
cargo build -q --workspace --bins

stage "cargo test (unit, handler, integration)"
mkdir -p target
cargo test -q --workspace --no-fail-fast 2>&1 | tee target/test-output.txt
grep -Eq "test result: ok\. [1-9]" target/test-output.txt || { echo "no test ran"; exit 1; }

# Tests against the real model services run only with credentials, and say so when they do not:
# they are #[ignore]d, so without credentials cargo reports them as ignored, never as passed.
stage "live provider tests (real credentials only)"
if [ -n "${OPENAI_API_KEY:-}" ]; then
  cargo test -q -p api-tests --test providers live_openai -- --ignored
else
  echo "skipped: live OpenAI test (set OPENAI_API_KEY, optionally OPENAI_MODEL and OPENAI_BASE_URL)"
fi
if [ -n "${BEDROCK_MODEL_ID:-}" ] && { [ -n "${AWS_ACCESS_KEY_ID:-}" ] || [ -n "${AWS_PROFILE:-}" ]; }; then
  cargo test -q -p api-tests --test providers live_bedrock -- --ignored
else
  echo "skipped: live Bedrock test (set BEDROCK_MODEL_ID and AWS credentials with a region)"
fi

stage "template: cfn-lint, sam validate --lint, and each AuthMode through the SAM translator"
.tools/venv/bin/cfn-lint template.yaml
.tools/venv/bin/sam validate --lint --region us-east-1 --template template.yaml
# sam validate does not evaluate conditions: translate the template in every AuthMode.
.tools/venv/bin/python scripts/template_auth_modes.py

# Offline: --skip-download keeps checkov from fetching policies and guidelines from its vendor's
# platform. Every skipped check is justified in the resource's Metadata (checkov: skip).
stage "template: checkov security scan (offline)"
.tools/venv-checkov/bin/checkov --framework cloudformation --skip-download --compact --quiet \
  -f template.yaml \
  || { echo "checkov failed: fix the resource, or skip the check in its Metadata with a reason" >&2; exit 1; }

for extra in scripts/contract-fuzz.sh scripts/browser-check.sh bench/smoke.sh; do
  if [ -x "$extra" ]; then
    stage "$extra"
    "$extra"
  fi
done

echo
echo "all checks passed"
