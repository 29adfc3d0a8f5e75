"""Creates the job queue, its dead-letter queue and the job bucket of template.yaml on a local
SQS/S3-compatible server (moto), and prints the environment that points the functions at them.

The redrive policy (maxReceiveCount) is read from template.yaml. The visibility timeout is the
template's scaled to the local worker: the local API gives every function 29 s, so the local
visibility timeout is 30 s by default (LOCAL_JOB_VISIBILITY_SECONDS) and the worker's lease 29 s.

Usage: python local_jobs.py <template.yaml> <endpoint-url>
"""

import os
import sys

import boto3

# Run as a script from scripts/, beside the template reader it shares with local_tables.py.
from local_tables import load_template


def main(template_path: str, endpoint: str) -> int:
    template = load_template(template_path)
    resources = template["Resources"]
    redrive = resources["JobQueue"]["Properties"]["RedrivePolicy"]
    visibility = os.environ.get("LOCAL_JOB_VISIBILITY_SECONDS", "30")
    session = dict(
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    sqs = boto3.client("sqs", **session)
    s3 = boto3.client("s3", **session)
    dlq_url = sqs.create_queue(QueueName="JobDeadLetterQueue", Attributes={"VisibilityTimeout": visibility})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName="JobQueue",
        Attributes={
            "VisibilityTimeout": visibility,
            "RedrivePolicy": (
                '{"deadLetterTargetArn": "%s", "maxReceiveCount": "%s"}'
                % (dlq_arn, redrive["maxReceiveCount"])
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket="job-bucket")
    print(f"export JOB_QUEUE_URL={queue_url}")
    print(f"export JOB_QUEUE_ARN={queue_arn}")
    print(f"export JOB_DLQ_URL={dlq_url}")
    print(f"export JOB_DLQ_ARN={dlq_arn}")
    print("export JOB_BUCKET=job-bucket")
    print("export JOBS_TABLE=JobsTable")
    print(f"export JOB_LEASE_SECONDS={max(10, int(visibility) - 1)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
