"""`POST /v1/score` in FastAPI + Mangum, equivalent to `functions/score` with its embedding model
(`MODEL_DIR`): the same request bounds and closed shape (pydantic, extra fields forbidden, unique
ids), RFC 9457 problem+json errors with JSON pointers, and the same success envelope with `meta`.

Scoring is the same hybrid as the Rust engine's defaults (`Tuning`: min-max fusion, lexical
weight 0.4): every document is cut into passages of whole sentences of about 120 words; BM25
(rank_bm25, Okapi) scores every passage. For the model, documents are cut again into passages
of at most 128 wordpieces, each document's passages ordered by the query words they hold, and
taken in rounds (each document's first passage, documents in BM25 order, then each one's second,
...) until 2,560 wordpieces, query included, are spent; they are embedded with all-MiniLM-L6-v2
(sentence-transformers on PyTorch, CPU, mean pooling, L2-normalised, 256 wordpieces) in one
`encode` call together with the query; each document keeps its best passage for both signals (a
document the budget does not reach gets the request's lowest cosine); each signal is min-max normalised over the documents and the two are
fused as 0.4 * lexical + 0.6 * dense, clamped to [0, 1]. The model is loaded once, at import
(the cold start), from local files only; nothing is fetched from the network. The lexical side
does less text processing than the Rust engine (no stemming), which only favours Python.

Like the Rust functions, it writes one request-log item to DynamoDB per request
(`REQUEST_LOG_TABLE`, inline, before answering)."""
import hashlib
import os
import pathlib
import re
import time
import uuid
from typing import Annotated, List, Optional

# Local model files only: set before transformers / huggingface_hub are imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mangum import Mangum
import boto3
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from rank_bm25 import BM25Okapi
from sentence_transformers import SentenceTransformer
try:  # sentence-transformers >= 6
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
except ImportError:  # older releases
    from sentence_transformers.models import Normalize, Pooling, Transformer

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
WORD = re.compile(r"\w+", re.UNICODE)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

# The Rust engine's defaults (shared/src/provider/embedded: `Tuning::default()`, score.rs).
PASSAGE_WORDS = 120
PASSAGE_TOKENS = 128
EMBEDDED_TOKENS = 2560
MAX_EMBEDDED_PASSAGES = 128
LEXICAL_WEIGHT = 0.4
MAX_SEQ_LENGTH = 256
MODEL_ID = "all-MiniLM-L6-v2"


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

# The model, once per cold start. `MODEL_DIR` holds the raw files (config.json, tokenizer.json,
# model.safetensors; no modules.json), so the pipeline is built explicitly. Without `MODEL_DIR`
# (e.g. the in-process check of bench/smoke.sh) the repo's `.tools` copy is used.
MODEL_DIR = os.environ.get("MODEL_DIR") or str(
    pathlib.Path(__file__).resolve().parents[2] / ".tools" / "model" / MODEL_ID)
_transformer = Transformer(MODEL_DIR, max_seq_length=MAX_SEQ_LENGTH)
MODEL = SentenceTransformer(
    modules=[_transformer, Pooling(_transformer.get_embedding_dimension(), pooling_mode="mean"), Normalize()],
    device="cpu")
MODEL.eval()


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


def passages(text: str, limit: int = PASSAGE_WORDS, cost=lambda s: len(s.split())) -> List[str]:
    """Consecutive sentences grouped into passages costing at most `limit` (words by default; a
    sentence costing more on its own is cut at word boundaries, so the model reads all of it)."""
    out: List[str] = []
    current: List[str] = []
    spent = 0
    for sentence in SENTENCE_END.split(text.strip()):
        n = cost(sentence)
        if n == 0:
            continue
        if n > limit:
            if current:
                out.append(" ".join(current))
                current, spent = [], 0
            w = sentence.split()
            step = max(1, len(w) * limit // n)
            out.extend(" ".join(w[i:i + step]) for i in range(0, len(w), step))
            continue
        if spent and spent + n > limit:
            out.append(" ".join(current))
            current, spent = [], 0
        current.append(sentence)
        spent += n
    if current:
        out.append(" ".join(current))
    return out or [text]


def wordpieces(text: str) -> int:
    return len(MODEL.tokenizer.tokenize(text))


def min_max(values: np.ndarray) -> np.ndarray:
    """Over the request's documents, as `engine::rank::min_max` (a flat signal: 1 if non-zero)."""
    lo, hi = float(values.min()), float(values.max())
    if hi > lo:
        return np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    return (values != 0).astype(np.float64)


def hybrid_scores(query: str, texts: List[str]):
    """Fused score per document, plus the usage accounting (model tokens, texts embedded)."""
    n_docs = len(texts)
    doc_passages = [passages(t) for t in texts]
    owner = [d for d, ps in enumerate(doc_passages) for _ in ps]
    flat = [p for ps in doc_passages for p in ps]

    # Lexical: BM25 over all passages, best passage per document.
    corpus = [tokens(p) for p in flat]
    query_terms = tokens(query)
    bm25_best = np.zeros(n_docs)
    if query_terms and any(corpus):
        for p, s in enumerate(BM25Okapi(corpus).get_scores(query_terms)):
            d = owner[p]
            bm25_best[d] = max(bm25_best[d], s if np.isfinite(s) else 0.0)

    # Dense: passages of at most PASSAGE_TOKENS wordpieces, each document's ordered by the query
    # words they hold, taken in rounds over the documents in BM25 order until the budget is spent.
    order = sorted(range(n_docs), key=lambda d: (-bm25_best[d], d))
    wanted = set(query_terms)
    dense_passages = {}
    batch_owner: List[int] = []
    batch_texts: List[str] = []
    spent = wordpieces(query) + 2
    round_ = 0
    while True:
        any_left = False
        for d in order:
            if d not in dense_passages:
                ps = passages(texts[d], PASSAGE_TOKENS, wordpieces)
                hits = [sum(t in wanted for t in tokens(p)) for p in ps]
                dense_passages[d] = [p for _, _, p in sorted(
                    ((-h, i, p) for i, (h, p) in enumerate(zip(hits, ps))))]
            ps = dense_passages[d]
            if round_ >= len(ps):
                continue
            any_left = True
            cost = wordpieces(ps[round_]) + 2
            if (batch_texts and spent + cost > EMBEDDED_TOKENS) or len(batch_texts) >= MAX_EMBEDDED_PASSAGES:
                any_left = False
                break
            spent += cost
            batch_texts.append(ps[round_])
            batch_owner.append(d)
        if not any_left:
            break
        round_ += 1
    unique = list(dict.fromkeys([query] + batch_texts))
    slot = {t: i for i, t in enumerate(unique)}
    vectors = MODEL.encode(unique, batch_size=32, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
    cosines = vectors @ vectors[slot[query]]
    dense_best = np.full(n_docs, -np.inf)
    for t, d in zip(batch_texts, batch_owner):
        dense_best[d] = max(dense_best[d], float(cosines[slot[t]]))
    reached = np.isfinite(dense_best)
    dense_best[~reached] = dense_best[reached].min() if reached.any() else 0.0

    fused = np.clip(LEXICAL_WEIGHT * min_max(bm25_best) + (1.0 - LEXICAL_WEIGHT) * min_max(dense_best), 0.0, 1.0)
    input_tokens = sum(len(ids) for ids in MODEL.tokenizer(
        unique, truncation=True, max_length=MAX_SEQ_LENGTH)["input_ids"])
    return fused, input_tokens, len(unique)


@app.post("/v1/score")
async def score(body: ScoreRequest, request: Request):
    started = time.perf_counter()
    fused, input_tokens, embedded = hybrid_scores(body.query, [d.text for d in body.documents])
    scored = sorted(
        ({"id": d.id, "index": i, "score": float(s)} for i, (d, s) in enumerate(zip(body.documents, fused))),
        key=lambda r: (-r["score"], r["index"]))
    if body.top_k:
        scored = scored[: body.top_k]
    rid = request_id(request)
    latency_ms = int((time.perf_counter() - started) * 1000)
    write_request_log(rid, "/v1/score", 200, latency_ms, await request.body())
    return {"results": scored, "meta": {
        "request_id": rid, "api_version": "v1", "provider": "embedded",
        "model": f"{MODEL_ID}+bm25", "usage": {"input_tokens": input_tokens,
                                               "output_tokens": 0, "embedded_texts": embedded},
        "latency_ms": latency_ms}}


handler = Mangum(app, lifespan="off")
