"""Creates the bench's request-log and feedback tables (keyed by request_id, as in template.yaml) in DynamoDB Local (endpoint from AWS_ENDPOINT_URL_DYNAMODB)."""
import sys
import time

import boto3

tables = sys.argv[1:] or ["bench-request-log", "bench-feedback"]
client = boto3.client("dynamodb")
for attempt in range(100):
    try:
        client.list_tables()
        break
    except Exception:  # noqa: BLE001 - DynamoDB Local is still starting
        time.sleep(0.2)
else:
    sys.exit("DynamoDB Local did not answer")
for table in tables:
    if table not in client.list_tables()["TableNames"]:
        client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}])
print("tables ready: " + ", ".join(tables))
