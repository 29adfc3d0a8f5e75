"""Background jobs through the local stack: jobs per second through the local worker and the
queue-to-start latency (the job's `started_at` minus its `created_at`: submit, queue, event
source poll, worker start), p50 and p99.

Run against a local stack (`scripts/stack.sh start DIR`, which runs the real binaries, moto and
DynamoDB Local, with the embedding model):

    python3 bench/jobs.py http://127.0.0.1:PORT [--jobs 300] [--clients 8] [--intent score]

Standard library only. Prints a Markdown table for BENCHMARKS.md.
"""

import argparse
import concurrent.futures
import datetime
import json
import statistics
import time
import urllib.error
import urllib.request

INPUTS = {
    "score": lambda i: {
        "query": f"reset my password {i}",
        "documents": [
            {"id": "kb-12", "text": "To change your password, open Settings, then Security."},
            {"id": "kb-40", "text": "Our shipping times are 2-4 business days within the EU."},
            {"id": "kb-07", "text": "Use the 'Forgot password' link on the login page."},
        ],
    },
    "summarize": lambda i: {
        "text": f"Report {i}. The council approved the budget. Buses will run at night. "
        "Fares may rise next year. Two depots open in spring.",
        "max_sentences": 2,
    },
}


def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("api")
    ap.add_argument("--jobs", type=int, default=300)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--intent", default="score", choices=sorted(INPUTS))
    # Seconds each client waits between submits: below the worker's throughput, the
    # queue-to-start latency is the pipeline's own, not a backlog's.
    ap.add_argument("--interval", type=float, default=0.0)
    a = ap.parse_args()

    def submit(i):
        status, body = call("POST", f"{a.api}/v1/jobs", {"intent": a.intent, "input": INPUTS[a.intent](i)})
        if status != 202:
            raise SystemExit(f"submit {i}: {status} {body}")
        time.sleep(a.interval)
        return body["job_id"]

    wall = time.time()
    with concurrent.futures.ThreadPoolExecutor(a.clients) as pool:
        ids = list(pool.map(submit, range(a.jobs)))
    submitted = time.time() - wall
    done = {}
    while len(done) < len(ids):
        for job_id in ids:
            if job_id in done:
                continue
            status, body = call("GET", f"{a.api}/v1/jobs/{job_id}")
            if status == 200 and body["status"] in ("succeeded", "failed"):
                done[job_id] = body
        time.sleep(0.2)
    jobs = list(done.values())
    failed = [j for j in jobs if j["status"] != "succeeded"]
    first_created = min(ts(j["created_at"]) for j in jobs)
    last_finished = max(ts(j["finished_at"]) for j in jobs)
    queue_to_start = [1000 * (ts(j["started_at"]) - ts(j["created_at"])) for j in jobs]
    run_ms = [1000 * (ts(j["finished_at"]) - ts(j["started_at"])) for j in jobs]
    rate = len(jobs) / (last_finished - first_created)
    print(f"| intent | jobs | clients x interval | submit rate (jobs/s) | throughput (jobs/s) | queue-to-start p50 | p99 | run p50 | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {a.intent} | {len(jobs)} | {a.clients} x {a.interval:g} s | {len(ids) / submitted:.1f} | {rate:.1f} | "
        f"{statistics.median(queue_to_start):.0f} ms | {percentile(queue_to_start, 99):.0f} ms | "
        f"{statistics.median(run_ms):.0f} ms | {len(failed)} |"
    )


if __name__ == "__main__":
    main()
