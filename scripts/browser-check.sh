#!/usr/bin/env bash
# Headless-browser check of the docs page: loads /docs from the local API in Debian's Chromium
# (no network: the page must render from what the docs function serves), checks that Redoc
# rendered every route of the document (method and path, outside any <script>), and saves a
# screenshot and the rendered DOM under target/browser-check/.
#
# Usage: scripts/browser-check.sh   (installs the `chromium` package if it is missing)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/browser-check"
rm -rf "$OUT"
mkdir -p "$OUT"

if ! command -v chromium >/dev/null 2>&1; then
  { apt-get update -qq && apt-get install -y -qq chromium; } >"$OUT/apt.log" 2>&1 \
    || { cat "$OUT/apt.log" >&2; echo "browser-check: could not install chromium" >&2; exit 1; }
fi

cargo build --workspace --quiet

# The docs routes need no DynamoDB, but the functions' configuration does name their tables.
API_PID=""
stop_api() { [ -n "$API_PID" ] && { kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; }; }
trap stop_api EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
REQUEST_LOG_TABLE=RequestLogTable FEEDBACK_TABLE=FeedbackTable AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
  AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:9" \
  "${CARGO_TARGET_DIR:-$ROOT/target}/debug/local-api" --port "$port" >"$OUT/local-api.log" 2>&1 &
API_PID=$!
for _ in $(seq 1 120); do
  grep -q "local API listening on" "$OUT/local-api.log" 2>/dev/null && break
  kill -0 "$API_PID" 2>/dev/null || { tail -20 "$OUT/local-api.log" >&2; echo "browser-check: local-api exited" >&2; exit 1; }
  sleep 0.5
done
grep -q "local API listening on" "$OUT/local-api.log" || { echo "browser-check: local-api not ready" >&2; exit 1; }
URL="http://127.0.0.1:$port/docs"

# The flags that keep Chromium quiet on a machine without internet (see the machine notes): no
# background networking, no component updates, a fresh profile each run. The virtual time budget
# lets Redoc finish rendering before the DOM is dumped and the screenshot taken.
chrome() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d)" --hide-scrollbars --virtual-time-budget=15000 "$@" 2>>"$OUT/chromium.log"
}
chrome --window-size=1400,2400 --screenshot="$OUT/docs.png" "$URL" >/dev/null
chrome --dump-dom "$URL" >"$OUT/docs.dom.html"
curl -sf "http://127.0.0.1:$port/v1/openapi.json" >"$OUT/openapi.json"

python3 - "$OUT/docs.dom.html" "$OUT/openapi.json" "$OUT/docs.png" <<'PY'
import json, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
doc = json.load(open(sys.argv[2]))
# The page inlines the document in a <script>: only what Redoc rendered counts.
rendered = re.sub(r"(?is)<script\b.*?</script>", "", dom)
text = re.sub(r"<[^>]+>", " ", rendered)
missing = []
routes = 0
for path, item in doc["paths"].items():
    for method, op in item.items():
        routes += 1
        # Redoc shows each operation with its summary and, in the middle panel, its method and path.
        if path not in text:
            missing.append(f"{method.upper()} {path}: path not rendered")
        if op["summary"] not in text:
            missing.append(f"{method.upper()} {path}: summary '{op['summary']}' not rendered")
        if not re.search(rf"(?i)\b{method}\b", text):
            missing.append(f"{method.upper()} {path}: method not rendered")
import struct
with open(sys.argv[3], "rb") as f:
    head = f.read(24)
if head[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("browser-check: the screenshot is not a PNG")
width, height = struct.unpack(">II", head[16:24])
if missing:
    print("browser-check: the docs page does not show every route:", *missing, sep="\n  ")
    sys.exit(1)
print(f"browser-check: /docs rendered all {routes} routes; screenshot {width}x{height} at {sys.argv[3]}")
PY
