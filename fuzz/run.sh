#!/usr/bin/env bash
# Runs one fuzz target for a number of seconds: ./run.sh <target> [seconds, default 600].
# Seeds its corpus with the request bodies of the API Gateway fixtures in events/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
target="${1:?usage: run.sh <summarize|classify|extract|recommend|score|feedback|model_answer|openai_answer> [seconds]}"
seconds="${2:-600}"
mkdir -p "corpus/$target"
python3 - "$target" "corpus/$target" <<'PY'
import glob, hashlib, json, os, sys
target, out = sys.argv[1], sys.argv[2]
for path in glob.glob(f"../events/**/*.json", recursive=True):
    try:
        event = json.load(open(path))
    except (OSError, ValueError):
        continue
    if not isinstance(event, dict) or not isinstance(event.get("body"), str):
        continue
    if not str(event.get("path", "")).rstrip("/").endswith(f"/{target}"):
        continue
    body = event["body"].encode()
    with open(os.path.join(out, hashlib.sha1(body).hexdigest()), "wb") as f:
        f.write(body)
PY
RUSTC_BOOTSTRAP=1 exec cargo fuzz run "$target" "corpus/$target" -- \
  -max_total_time="$seconds" -dict=json.dict -max_len=65536 -print_final_stats=1
