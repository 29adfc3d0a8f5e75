"""Schemathesis hooks for scripts/contract-fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

- `cross_field_rules_only`: the one place where a schema-valid request may still get a 422 is a
  rule that spans several fields (duplicate labels or ids, `values` only on enum fields, a profile
  with neither text nor liked ids, a liked id that is not a candidate). JSON Schema cannot say
  those, so the document lists them in each operation's description. This check fails any 422
  to a schema-valid (positive) request whose `errors` name anything else: that would be a bound
  the document does not show, i.e. drift between docs and code.
- `count_cases`: counts the cases sent per operation, phase and mode, written to
  $CONTRACT_FUZZ_COUNTS (JSON) when the run ends, for the per-route summary.
"""

import atexit
import collections
import json
import os
import threading

import schemathesis

# The `code` values of FieldError that only the cross-field rules (contract::*::semantic_errors)
# produce, plus `unsupported`: a capability the deployed provider lacks (an abstractive summary on
# the embedded engine), stated in the summarize operations' descriptions. A schema-valid request
# can only fail those.
# The cap on a generative provider's input tokens (`MAX_INPUT_TOKENS`) also refuses schema-valid
# bodies, but as a 413 of type `input-too-large` (documented on every intent route), not a 422, so
# it needs no entry here.
CROSS_FIELD_CODES = {"duplicate", "required", "not_allowed", "unknown_id", "unsupported"}

# A job's `input` is documented as "the body of the intent's synchronous route", an object the
# schema leaves open (its shape depends on `intent`); the intent's own contract judges it, with
# pointers under /input.
OPEN_INPUT = {"POST /v1/jobs": "/input"}

_counts = collections.Counter()
_lock = threading.Lock()


def _mode(case):
    meta = getattr(case, "meta", None)
    if meta is None:
        return "unknown", "unknown"
    mode = "positive" if meta.generation.mode.is_positive else "negative"
    phase = getattr(getattr(meta, "phase", None), "name", None)
    phase = getattr(phase, "value", phase) or "unknown"
    return str(phase), mode


@schemathesis.check
def cross_field_rules_only(ctx, response, case):
    phase, mode = _mode(case)
    with _lock:
        _counts[(case.operation.label, phase, mode)] += 1
    if mode != "positive" or response.status_code != 422:
        return None
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        errors = []
    codes = {e.get("code") for e in errors}
    prefix = OPEN_INPUT.get(case.operation.label)
    if prefix and errors and all(str(e.get("pointer", "")).startswith(prefix) for e in errors):
        return None
    if not codes or not codes <= CROSS_FIELD_CODES:
        pointers = ", ".join(f"{e.get('pointer')} ({e.get('code')})" for e in errors)
        raise AssertionError(
            "A request that the schema calls valid was rejected with 422 for a reason the "
            f"document does not state: {pointers or 'no errors listed'}"
        )
    return None


def _write_counts():
    path = os.environ.get("CONTRACT_FUZZ_COUNTS")
    if not path:
        return
    rows = [
        {"operation": op, "phase": phase, "mode": mode, "cases": n}
        for (op, phase, mode), n in sorted(_counts.items())
    ]
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)


atexit.register(_write_counts)
