"""Prints the newest items of a table of the local stack (started by `scripts/stack.sh run`).

Usage: .tools/venv/bin/python scripts/show_table.py RequestLogTable|FeedbackTable [N]
"""

import json
import os
import sys

import boto3


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    table, limit = sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 10
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    url_file = os.path.join(root, ".local", "stack", "dynamodb_url")
    if not os.path.exists(url_file):
        print("the local stack is not running; start it with scripts/stack.sh run", file=sys.stderr)
        return 1
    with open(url_file, encoding="utf-8") as f:
        endpoint = f.read().strip()
    db = boto3.resource(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    items, kwargs = [], {}
    while True:
        page = db.Table(table).scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    items.sort(key=lambda i: i.get("created_at", ""), reverse=True)
    for item in items[:limit]:
        print(json.dumps(item, default=str, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
