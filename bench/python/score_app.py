"""`POST /v1/score` in FastAPI + Mangum, equivalent to `functions/score`: the same request bounds
and closed shape (pydantic, extra fields forbidden, unique ids), RFC 9457 problem+json errors
with JSON pointers, BM25 (rank_bm25, Okapi) with scores squashed into [0, 1], and the same success
envelope with `meta`. It does less text processing than the Rust engine (no stemming, no
passages), which only favours Python in the comparison. Like the Rust functions, it writes one
request-log item to DynamoDB per request (`REQUEST_LOG_TABLE`, inline, before answering)."""
import hashlib
import math
import os
import re
import time
import uuid
from typing import Annotated, List, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mangum import Mangum
import boto3
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from rank_bm25 import BM25Okapi

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
WORD = re.compile(r"\w+", re.UNICODE)


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain at least one non-whitespace character")
    return value


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Id
    text: str = Field(min_length=1, max_length=20_000)
    _blank = field_validator("text")(not_blank)


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=1_000)
    documents: List[Document] = Field(min_length=1, max_length=100)
    top_k: Optional[int] = Field(default=None, ge=1, le=100)
    _blank = field_validator("query")(not_blank)

    @field_validator("documents")
    @classmethod
    def unique_ids(cls, docs):
        seen = set()
        for d in docs:
            if d.id in seen:
                raise ValueError(f"duplicate document id {d.id}")
            seen.add(d.id)
        return docs


app = FastAPI(title="score")
LOG_TABLE = os.environ.get("REQUEST_LOG_TABLE")
dynamodb = boto3.client("dynamodb") if LOG_TABLE else None


def write_request_log(rid: str, route: str, status: int, latency_ms: int, raw: bytes):
    """The soft write: its failure never fails the request."""
    if not dynamodb:
        return
    try:
        dynamodb.put_item(TableName=LOG_TABLE, Item={
            "request_id": {"S": rid}, "route": {"S": route}, "status": {"N": str(status)},
            "latency_ms": {"N": str(latency_ms)}, "input_bytes": {"N": str(len(raw))},
            "input_sha256": {"S": hashlib.sha256(raw).hexdigest()}})
    except Exception:  # noqa: BLE001
        pass


def request_id(request: Request) -> str:
    event = request.scope.get("aws.event") or {}
    return (event.get("requestContext") or {}).get("requestId") or str(uuid.uuid4())


@app.exception_handler(RequestValidationError)
async def problem(request: Request, exc: RequestValidationError):
    errors = [{"pointer": "/" + "/".join(str(p) for p in e["loc"][1:]), "code": e["type"],
               "message": e["msg"]} for e in exc.errors()]
    rid = request_id(request)
    return JSONResponse(status_code=422, media_type="application/problem+json", content={
        "type": "https://errors.example/validation", "title": "Unprocessable Content",
        "status": 422, "detail": "the request body is invalid", "instance": request.url.path,
        "request_id": rid, "errors": errors})


def tokens(text: str) -> List[str]:
    return WORD.findall(text.lower())


@app.post("/v1/score")
async def score(body: ScoreRequest, request: Request):
    started = time.perf_counter()
    corpus = [tokens(d.text) for d in body.documents]
    query = tokens(body.query)
    raw = BM25Okapi(corpus).get_scores(query)
    scored = sorted(
        ({"id": d.id, "index": i, "score": float(1.0 - math.exp(-max(s, 0.0) / 4.0))}
         for i, (d, s) in enumerate(zip(body.documents, raw))),
        key=lambda r: (-r["score"], r["index"]))
    if body.top_k:
        scored = scored[: body.top_k]
    rid = request_id(request)
    latency_ms = int((time.perf_counter() - started) * 1000)
    write_request_log(rid, "/v1/score", 200, latency_ms, await request.body())
    return {"results": scored, "meta": {
        "request_id": rid, "api_version": "v1", "provider": "embedded",
        "model": "bm25", "usage": {"input_tokens": len(query) + sum(map(len, corpus)),
                                   "output_tokens": 0, "embedded_texts": 0},
        "latency_ms": latency_ms}}


handler = Mangum(app, lifespan="off")
