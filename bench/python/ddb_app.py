"""`POST /v1/feedback` in FastAPI + Mangum + boto3, the counterpart of `functions/feedback`: a
hard, idempotent write (conditional put keyed by the request id, with the payload's sha256; a
retry with the same payload is a success, a different one a 409). The client is built at import,
once per cold start; `AWS_ENDPOINT_URL_DYNAMODB` points it at DynamoDB Local."""
import datetime
import hashlib
import json
import os
from typing import Literal, Optional

import boto3
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from mangum import Mangum
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from typing_extensions import Annotated

TABLE = os.environ.get("FEEDBACK_TABLE", "bench-feedback")
dynamodb = boto3.client("dynamodb")
app = FastAPI(title="feedback")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    rating: Literal["positive", "negative"]
    comment: Optional[str] = Field(default=None, min_length=1, max_length=2000)


@app.post("/v1/feedback")
def feedback(body: FeedbackRequest):
    payload = body.model_dump_json()
    digest = hashlib.sha256(payload.encode()).hexdigest()
    created_at = datetime.datetime.now(datetime.timezone.utc).isoformat()
    item = {"request_id": {"S": body.request_id}, "rating": {"S": body.rating},
            "payload_sha256": {"S": digest}, "created_at": {"S": created_at}}
    if body.comment:
        item["comment"] = {"S": body.comment}
    try:
        dynamodb.put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(request_id)")
        created = True
    except dynamodb.exceptions.ConditionalCheckFailedException:
        old = dynamodb.get_item(TableName=TABLE, Key={"request_id": {"S": body.request_id}}).get("Item", {})
        if old.get("payload_sha256", {}).get("S") != digest:
            return JSONResponse(status_code=409, content={"status": 409, "title": "Conflict"})
        created = False
    except Exception:  # noqa: BLE001 - a hard write that cannot be stored is a 503
        return JSONResponse(status_code=503, headers={"Retry-After": "1"},
                            content={"status": 503, "title": "Service Unavailable"})
    return JSONResponse(status_code=201 if created else 200, content={
        "feedback": {**json.loads(payload), "created_at": created_at}, "created": created})


handler = Mangum(app, lifespan="off")
