"""Regenerates the curl examples of README.md from a running local stack.

Usage: scripts/stack.sh run &   then   python3 scripts/readme_examples.py http://127.0.0.1:3000
Prints Markdown: each example's curl command and the response it really got.
"""

import json
import sys
import urllib.error
import urllib.request

EXAMPLES = [
    (
        "Summarize a document, focused on a query",
        "/v1/summarize",
        {
            "text": (
                "The city council approved the new transit budget on Tuesday after a four-hour debate. "
                "The plan adds 40 electric buses and extends night service on six routes. "
                "Council members who opposed it said fares may rise next year to cover operating costs. "
                "The mayor called the vote a turning point for commuters in the eastern districts. "
                "Construction of two new depots is expected to begin in the spring."
            ),
            "max_sentences": 2,
            "focus": "cost to riders",
        },
    ),
    (
        "Classify a support message into your labels",
        "/v1/classify",
        {
            "text": "I was charged twice for my subscription this month, please refund one payment.",
            "labels": [
                {"name": "billing", "description": "charges, refunds, invoices, payment methods"},
                {"name": "account_access", "description": "login, password, two-factor authentication"},
                {"name": "shipping"},
                {"name": "product_feedback"},
            ],
        },
    ),
    (
        "Extract typed fields from an invoice email",
        "/v1/extract",
        {
            "text": (
                "Hello,\nplease find attached invoice INV-2026-0412 for the October consulting work.\n"
                "Invoice number: INV-2026-0412\nAmount due: EUR 1,250.00\nDue date: 15 December 2026\n"
                "Questions? Write to billing@northwind.example or call +44 20 7946 0958.\n"
            ),
            "fields": [
                {"name": "invoice_number", "type": "string"},
                {"name": "amount_due", "type": "money"},
                {"name": "due_date", "type": "date"},
                {"name": "contact_email", "type": "email"},
                {"name": "phone", "type": "phone"},
                {"name": "purchase_order", "type": "string"},
            ],
        },
    ),
    (
        "Recommend items for a profile, with diversity",
        "/v1/recommend",
        {
            "profile": {"text": "trail running and lightweight camping gear", "liked_ids": ["sku-1"]},
            "items": [
                {"id": "sku-1", "text": "Ultralight trail running shoes with a grippy outsole"},
                {"id": "sku-2", "text": "Trail running shoes, waterproof, for muddy mountain paths"},
                {"id": "sku-3", "text": "One-person ultralight backpacking tent, 900 g"},
                {"id": "sku-4", "text": "Espresso machine with milk frother"},
                {"id": "sku-5", "text": "Running vest with two soft flasks for long trail runs"},
                {"id": "sku-6", "text": "Compact camping stove and titanium pot set"},
            ],
            "exclude_ids": ["sku-5"],
            "limit": 3,
            "diversity": 0.5,
        },
    ),
    (
        "Score and rerank documents for a query",
        "/v1/score",
        {
            "query": "how do I reset my password",
            "documents": [
                {"id": "kb-12", "text": "To change your password, open Settings, then Security, and choose Reset password."},
                {"id": "kb-40", "text": "Our shipping times are 2-4 business days within the EU."},
                {"id": "kb-07", "text": "If you cannot sign in, use the 'Forgot password' link on the login page to get a reset email."},
            ],
        },
    ),
    (
        "Send feedback on a response (idempotent)",
        "/v1/feedback",
        {
            "request_id": "REQUEST_ID",
            "rating": "negative",
            "comment": "The second sentence is not about costs.",
        },
    ),
]


def call(base: str, path: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="POST" if body is not None else "GET")
    if body is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def main() -> int:
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:3000"
    last_request_id = None
    for title, path, body in EXAMPLES:
        if body.get("request_id") == "REQUEST_ID":
            body = dict(body, request_id=last_request_id)
        status, answer = call(base, path, body)
        if path == "/v1/summarize":
            last_request_id = answer["meta"]["request_id"]
        print(f"**{title}** (`{path}`, HTTP {status})\n")
        print("```sh")
        print(f"curl -s {base}{path} -H 'content-type: application/json' -d '{json.dumps(body)}'")
        print("```\n")
        print("```json")
        print(json.dumps(answer, indent=1, ensure_ascii=False))
        print("```\n")
    for path in ["/v1/health", f"/v1/feedback/{last_request_id}"]:
        status, answer = call(base, path)
        print(f"**GET {path.split('/')[2]}** (`GET {path}`, HTTP {status})\n")
        print("```sh")
        print(f"curl -s {base}{path}")
        print("```\n")
        print("```json")
        print(json.dumps(answer, indent=1, ensure_ascii=False))
        print("```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
