"""Writes the API Gateway REST (v1 payload) events the benchmark sends, into bench/payloads/.

The bench ships its own events (rather than reading events/) so that its figures do not move
when the test fixtures change. Run it again after editing; the output is committed.
"""
import json
import pathlib

OUT = pathlib.Path(__file__).resolve().parent.parent / "payloads"

DOC = (
    "Lambda functions written in Rust start in milliseconds because there is no interpreter to "
    "boot and no dependency tree to import. The runtime polls the Lambda Runtime API for the next "
    "invocation, runs the handler and posts the response. Python functions built on FastAPI and "
    "Mangum import the web framework, pydantic and the ASGI adapter at every cold start. Memory "
    "use follows the same pattern: a Rust binary maps a few megabytes, an interpreter with its "
    "modules needs tens. For steady traffic the warm path matters more than the cold one, and "
    "there the per-request work of routing, validation and serialisation dominates. Teams that "
    "pay per millisecond and per megabyte see both in their bill. Benchmarks must therefore "
    "report cold start, warm latency, memory and package size side by side, measured on the same "
    "machine in the same run."
)


def event(method, path, body, resource="/{proxy+}", request_id="bench-req-__UNIQUE__"):
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json", "accept": "application/json",
                    "host": "bench.execute-api.local"},
        "multiValueHeaders": {"content-type": ["application/json"], "accept": ["application/json"],
                              "host": ["bench.execute-api.local"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "apiId": "bench", "resourceId": "bench",
            "resourcePath": resource, "httpMethod": method, "path": "/Prod" + path,
            "stage": "Prod", "requestId": request_id, "extendedRequestId": request_id,
            "requestTime": "01/Nov/2026:00:00:00 +0000", "requestTimeEpoch": 1793491200000,
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "bench"},
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


DOCS = [
    {"id": f"doc-{i}", "text": t}
    for i, t in enumerate([
        "Rust Lambda functions have very short cold starts and low memory use.",
        "FastAPI with Mangum adapts an ASGI application to API Gateway events.",
        "DynamoDB stores feedback items with a conditional put for idempotency.",
        "The embedding model all-MiniLM-L6-v2 maps sentences to 384 dimensions.",
        "BM25 ranks documents by term frequency and inverse document frequency.",
        "Cold start latency is the time from process start to the first response.",
        "Peak resident memory decides the Lambda memory size and therefore the cost.",
        "A release profile with LTO and strip makes the bootstrap binary smaller.",
    ])
]

PAYLOADS = {
    "generate": event("POST", "/generate", {"prompt": "Say hello to the benchmark.", "max_tokens": 16}),
    "summarize": event("POST", "/v1/summarize", {"text": DOC, "max_sentences": 3}),
    "classify": event("POST", "/v1/classify", {
        "text": "My invoice was charged twice this month, please refund the duplicate payment.",
        "labels": [{"name": "billing", "description": "payments, invoices, refunds"},
                   {"name": "technical", "description": "bugs, errors, outages"},
                   {"name": "account", "description": "login, password, profile"}],
    }),
    "extract": event("POST", "/v1/extract", {
        "text": "Order 4411 from jane.doe@example.com on 2026-10-31: total $129.95, call +1 415 555 0100.",
        "fields": [{"name": "email", "type": "email"}, {"name": "date", "type": "date"},
                   {"name": "total", "type": "money"}, {"name": "phone", "type": "phone"},
                   {"name": "order", "type": "integer"}],
    }),
    "recommend": event("POST", "/v1/recommend", {
        "profile": {"text": "fast serverless rust backends and low cold start"},
        "items": [{"id": d["id"], "text": d["text"]} for d in DOCS],
        "limit": 3,
    }),
    "score": event("POST", "/v1/score", {"query": "cold start latency of rust lambda", "documents": DOCS}),
    "health": event("GET", "/v1/health", None),
    "docs": event("GET", "/v1/openapi.json", None),
    # `__UNIQUE__` is replaced per invocation by the harness, so every warm write is a new item.
    "feedback": event("POST", "/v1/feedback", {"request_id": "bench-__UNIQUE__", "rating": "positive",
                                                "comment": "fast and right"}),
}

if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, payload in PAYLOADS.items():
        (OUT / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
    # Request bodies alone, for the HTTP load test of the local API.
    for name in ("score", "classify", "summarize"):
        (OUT / f"{name}.body.json").write_text(PAYLOADS[name]["body"] + "\n")
    print(f"wrote {len(PAYLOADS)} events to {OUT}")
