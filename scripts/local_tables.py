"""Creates the DynamoDB tables declared in template.yaml on a local DynamoDB endpoint.

template.yaml is the single source of the table definitions: key schema, billing mode and TTL
are read from it, so the local tables cannot drift from the deployed ones. Locally each table is
named after its logical id (RequestLogTable, FeedbackTable). Idempotent: existing tables are kept.

Usage: python local_tables.py <template.yaml> <endpoint-url>
"""

import sys
import time

import boto3
import yaml
from botocore.exceptions import ClientError


class _Tagged(yaml.SafeLoader):
    """Reads CloudFormation short-form intrinsics (!Ref, !GetAtt, ...) as plain values."""


def _any_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}


_Tagged.add_multi_constructor("!", _any_tag)


def load_template(template_path: str) -> dict:
    """template.yaml with its intrinsics as plain values (also used by local_jobs.py)."""
    with open(template_path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Tagged)  # noqa: S506 - SafeLoader subclass


def main(template_path: str, endpoint: str) -> int:
    template = load_template(template_path)
    tables = {
        name: res["Properties"]
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::DynamoDB::Table"
    }
    if not tables:
        print("local_tables: template.yaml declares no DynamoDB table", file=sys.stderr)
        return 1
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    for name, props in tables.items():
        try:
            client.create_table(
                TableName=name,
                AttributeDefinitions=props["AttributeDefinitions"],
                KeySchema=props["KeySchema"],
                BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            )
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceInUseException":
                raise
        for _ in range(100):
            status = client.describe_table(TableName=name)["Table"]["TableStatus"]
            if status == "ACTIVE":
                break
            time.sleep(0.05)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            try:
                client.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={
                        "AttributeName": ttl["AttributeName"],
                        "Enabled": True,
                    },
                )
            except ClientError as e:
                # Already enabled on a table kept from an earlier run.
                if "already enabled" not in str(e).lower():
                    raise
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
