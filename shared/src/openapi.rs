//! The OpenAPI 3.1 document of the whole API and the docs page that renders it.
//!
//! One document for every function, generated at run time from the same Rust types that the
//! handlers deserialize and validate: the schemas come from `utoipa::ToSchema` derives on the
//! contract types (validator bounds are repeated there as `#[schema(...)]` constraints, and
//! `tests/contract` checks that both agree), and the paths come from [`crate::routes::ROUTES`],
//! so a route cannot exist in the code and be missing from the document. The committed
//! `openapi.json` at the workspace root is this document; a test fails, with a diff, when they
//! differ.
//!
//! Success bodies are documented as the flattened envelope (the result's fields plus `meta`),
//! because that is what a client receives. Every error is `application/problem+json`, listed per
//! route with the statuses that route can actually return.
//!
//! The docs page is a vendored Redoc bundle, inlined with the document into one HTML response:
//! no CDN, no second request, works offline and under any stage prefix. The bundle (1.1 MB, kept
//! deflated in the binary) is only linked into the docs function, which hands over a loader with
//! [`install_docs_assets`]; it runs on the first `/docs` request, not at cold start. The other
//! functions never serve `/docs` and so do not carry it.

use std::sync::{LazyLock, OnceLock};

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::contract::classify::{ClassifyRequest, ClassifyResponse};
use crate::contract::extract::{ExtractRequest, ExtractResponse};
use crate::contract::feedback::{FeedbackRequest, FeedbackResponse, GetFeedbackResponse};
use crate::contract::health::HealthResponse;
use crate::contract::jobs::{JobResource, SubmitJobRequest};
use crate::contract::limits::{
    ID_PATTERN, JOB_IDEMPOTENCY_KEY_MAX_CHARS, JOB_MAX_BODY_BYTES, MAX_BODY_BYTES,
};
use crate::contract::recommend::{RecommendRequest, RecommendResponse};
use crate::contract::score::{ScoreRequest, ScoreResponse};
use crate::contract::summarize::{SummarizeRequest, SummarizeResponse};
use crate::contract::{API_VERSION, FieldError, Meta};
use crate::problem::{ApiError, PROBLEM_JSON};
use crate::routes::{Function, Operation, ROUTES, Route};

/// "Contains a character that is not whitespace", where whitespace is exactly what Rust's
/// `str::trim` removes (Unicode `White_Space`), which is what the `not_blank` validator checks.
/// Spelt as an explicit class because `\S` differs between ECMA-262, Python and Rust.
pub const NOT_BLANK_PATTERN: &str =
    r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// Name of the API key security scheme (API Gateway checks the key; the functions never see it).
pub const API_KEY_SCHEME: &str = "apiKey";

/// Schemas of fields whose constraints `#[schema(...)]` attributes cannot spell (constraints on
/// the items of a list, untagged enums, free-form JSON). Referenced from the contract types with
/// `#[schema(schema_with = ...)]`.
pub mod schemas {
    use utoipa::openapi::schema::{
        AnyOfBuilder, ArrayBuilder, ObjectBuilder, Ref, SchemaType, Type,
    };
    use utoipa::openapi::{RefOr, Schema};

    use super::NOT_BLANK_PATTERN;
    use crate::contract::limits::{
        EXTRACT_MAX_ENUM_VALUES, ID_PATTERN, MAX_LABEL_CHARS, MAX_TAG_CHARS, MAX_TAGS,
        RECOMMEND_MAX_ITEMS,
    };

    fn bounded_text(max: u64) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(max as usize))
            .pattern(Some(NOT_BLANK_PATTERN))
    }

    fn id() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(128))
            .pattern(Some(ID_PATTERN))
    }

    /// `FieldSpec.values`: only for `enum` fields; distinct (case-insensitively) values.
    pub fn enum_values() -> RefOr<Schema> {
        ArrayBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
            .items(bounded_text(MAX_LABEL_CHARS))
            .min_items(Some(1))
            .max_items(Some(EXTRACT_MAX_ENUM_VALUES as usize))
            // Exact repeats are a subset of the case-insensitive duplicates the server rejects.
            .unique_items(true)
            .description(Some(
                "The allowed values: required for, and only allowed on, `enum` fields. 1–100 \
                 values of 1–100 characters, distinct ignoring case.",
            ))
            .into()
    }

    /// `Profile.liked_ids`: each must be the id of one of the candidate `items`.
    pub fn liked_ids() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(id())
            .max_items(Some(100))
            .description(Some(
                "Ids of candidate items the user liked (each must be the id of one of `items`); \
                 they shape the profile and are not recommended again. At most 100.",
            ))
            .into()
    }

    /// `RecommendRequest.exclude_ids`.
    pub fn exclude_ids() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(id())
            .max_items(Some(RECOMMEND_MAX_ITEMS as usize))
            .description(Some(
                "Ids never to return (already owned, hidden, out of stock). At most 500.",
            ))
            .into()
    }

    /// `Item.tags`.
    pub fn tags() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(bounded_text(MAX_TAG_CHARS))
            .max_items(Some(MAX_TAGS as usize))
            .description(Some(
                "Up to 20 tags of 1–50 characters; they count as part of the item's text.",
            ))
            .into()
    }

    /// `FeedbackRequest.corrected_output`: any JSON value.
    pub fn corrected_output() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some(
                "Optional corrected result (any JSON value, at most 16 KiB once serialised), e.g. \
                 the label that was right.",
            ))
            .into()
    }

    /// `Feedback.corrected_output`: any JSON value, `null` when none was given.
    pub fn stored_corrected_output() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some(
                "The corrected result as submitted, or `null` when none was given.",
            ))
            .into()
    }

    /// `ExtractedField.value`: its JSON type follows the field's declared type.
    pub fn field_value() -> RefOr<Schema> {
        // anyOf, not oneOf: an integer is also a number.
        AnyOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(Ref::from_schema_name("Money"))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(
                "The value, typed as declared: boolean; number or integer; string (string, date \
                 as `YYYY-MM-DD`, email, phone, url, enum); `Money` object; or `null` when the \
                 document does not contain it.",
            ))
            .into()
    }
}

/// How an operation is documented.
struct OperationDoc {
    operation_id: &'static str,
    summary: &'static str,
    description: &'static str,
    tag: &'static str,
    /// Component name of the request body schema.
    request: Option<&'static str>,
    /// (status, description, body) of each success response.
    success: Vec<(u16, &'static str, Value)>,
    /// Error statuses this route can return, each documented as problem+json.
    errors: &'static [u16],
    api_key: bool,
}

/// Statuses every intent route can return: the function's own (400, 404, 405, 413, 415, 422,
/// 500, 502, 503, 504) plus API Gateway's (403 without a valid key, 429 throttled).
const INTENT_ERRORS: &[u16] = &[400, 403, 404, 405, 413, 415, 422, 429, 500, 502, 503, 504];

fn operation_doc(op: Operation) -> OperationDoc {
    let intent = |operation_id, summary, description, tag, request, result: &str| OperationDoc {
        operation_id,
        summary,
        description,
        tag,
        request: Some(request),
        success: vec![(200, "The result, with `meta`.", envelope_ref(result))],
        errors: INTENT_ERRORS,
        api_key: true,
    };
    match op {
        Operation::Summarize => intent(
            "summarize",
            "Summarize a document",
            "Extractive summary (default): the most salient sentences of the document, exactly as \
             written, with their positions. With `focus`, sentences about the focus are \
             preferred. With `\"style\": \"abstractive\"` and a generative provider, a summary in \
             the model's own words, with the input sentences it cites; on the embedded provider \
             that is a 422 on `/style`.",
            "summarize",
            "SummarizeRequest",
            "SummarizeResponse",
        ),
        Operation::SummarizeStream => OperationDoc {
            operation_id: "summarizeStream",
            summary: "Summarize a document, streamed as server-sent events",
            description: "The same request as `/v1/summarize`; the answer is a \
                 `text/event-stream` of events whose `data` is one line of JSON: `start` \
                 (`StreamStart`), then `delta` (`StreamDelta`) as the summary is written (tokens \
                 of an abstractive summary as the model produces them; one sentence each for an \
                 extractive one), then exactly one `done` (`StreamDone`, the whole summary, \
                 checked like the buffered route's) or `error` (`StreamError`, a problem object \
                 with `retryable`). Comment lines (`: keep-alive`) come while the model is \
                 silent. Anything rejected before the stream starts (validation, throttling, a \
                 provider unavailable at connect) is an ordinary problem+json response with its \
                 status; after the first byte, failures are `error` events and a summary cut \
                 short is never sent as `done`. Closing the connection stops the model.",
            tag: "summarize",
            request: Some("SummarizeRequest"),
            success: vec![(
                200,
                "The event stream: `start`, `delta`..., then `done` or `error`.",
                json!({
                    "type": "object",
                    "description": "One server-sent event: its name and its `data`, one line of \
                                    JSON whose schema depends on the name (StreamStart, \
                                    StreamDelta, StreamDone, StreamError).",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"type": "string", "enum": ["start", "delta", "done", "error"]},
                        "data": {"type": "string", "contentMediaType": "application/json"}
                    },
                    "x-event-schemas": {
                        "start": schema_ref("StreamStart"),
                        "delta": schema_ref("StreamDelta"),
                        "done": schema_ref("StreamDone"),
                        "error": schema_ref("StreamError"),
                    }
                }),
            )],
            errors: INTENT_ERRORS,
            api_key: true,
        },
        Operation::Classify => intent(
            "classify",
            "Classify a message into caller-given labels",
            "Zero-shot classification. Every label gets a score in [0, 1]; the best label is \
             returned when it reaches the threshold, otherwise the classifier abstains \
             (`label: null`). With `multi_label`, every label reaching the threshold is selected.\n\n\
             Cross-field rule (422, code `duplicate`): label names are unique, ignoring case.",
            "classify",
            "ClassifyRequest",
            "ClassifyResponse",
        ),
        Operation::Extract => intent(
            "extract",
            "Extract typed fields from a document",
            "Extracts each caller-declared field with its declared type, a confidence and the span \
             it was found at; `value: null` when the document does not contain it.\n\n\
             Cross-field rules (422): field names are unique (code `duplicate`); `values` is \
             required on `enum` fields (code `required`) and not allowed on others (code \
             `not_allowed`); enum values are distinct ignoring case (code `duplicate`).",
            "extract",
            "ExtractRequest",
            "ExtractResponse",
        ),
        Operation::Recommend => intent(
            "recommend",
            "Rank candidate items for a profile",
            "Ranks the caller's candidate items for a profile, trading relevance for diversity, \
             with a reason per item. Liked and excluded ids are never returned.\n\n\
             Cross-field rules (422): item ids are unique (code `duplicate`); the profile has a \
             `text`, `liked_ids`, or both (code `required`); every liked id is the id of a \
             candidate item (code `unknown_id`).",
            "recommend",
            "RecommendRequest",
            "RecommendResponse",
        ),
        Operation::Score => intent(
            "score",
            "Score and rerank documents for a query",
            "Relevance of each document to the query in [0, 1], most relevant first; long \
             documents are scored by their best passage.\n\n\
             Cross-field rule (422, code `duplicate`): document ids are unique.",
            "score",
            "ScoreRequest",
            "ScoreResponse",
        ),
        Operation::SubmitFeedback => OperationDoc {
            operation_id: "submitFeedback",
            summary: "Give feedback on an earlier response",
            description: "Stores the user's verdict on the response whose `meta.request_id` is \
                 given, durably: a 201 means it is stored. One feedback per response; the call is \
                 idempotent: retrying the same payload answers 200 with `created: false`, a \
                 different payload for the same request id is a 409. When storage is unavailable \
                 the answer is 503 with `Retry-After` and nothing is stored.",
            tag: "feedback",
            request: Some("FeedbackRequest"),
            success: vec![
                (201, "Stored.", envelope_ref("FeedbackResponse")),
                (
                    200,
                    "A retry of an identical, already stored submission (`created: false`).",
                    envelope_ref("FeedbackResponse"),
                ),
            ],
            errors: &[400, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503],
            api_key: true,
        },
        Operation::GetFeedback => OperationDoc {
            operation_id: "getFeedback",
            summary: "Read the feedback given on a response",
            description: "The stored feedback for a response, by its `meta.request_id`; 404 when \
                 none was given.",
            tag: "feedback",
            request: None,
            success: vec![(
                200,
                "The stored feedback.",
                envelope_ref("GetFeedbackResponse"),
            )],
            errors: &[403, 404, 405, 422, 429, 500, 503],
            api_key: true,
        },
        Operation::Health => OperationDoc {
            operation_id: "health",
            summary: "Liveness and dependency checks",
            description: "`ok` when every dependency is ok, `degraded` when an optional one is \
                 not (still 200), `down` when a required one is not (503 with the same body). \
                 Needs no API key, for load balancers and uptime checks.",
            tag: "operations",
            request: None,
            success: vec![(
                200,
                "Up (`ok` or `degraded`).",
                schema_ref("HealthResponse"),
            )],
            errors: &[404, 405, 429, 500, 503],
            api_key: false,
        },
        Operation::OpenApi => OperationDoc {
            operation_id: "openapi",
            summary: "This OpenAPI document",
            description: "The OpenAPI 3.1 document of the whole API, generated from the contract \
                 types. Needs no API key.",
            tag: "operations",
            request: None,
            success: vec![(
                200,
                "The OpenAPI document.",
                json!({ "type": "object", "required": ["openapi", "info", "paths"] }),
            )],
            errors: &[404, 405, 429, 500],
            api_key: false,
        },
        Operation::DocsPage => OperationDoc {
            operation_id: "docs",
            summary: "This documentation page",
            description: "A self-contained HTML page (Redoc, served by the function, no external \
                 requests) rendering this document. Needs no API key.",
            tag: "operations",
            request: None,
            success: vec![(200, "The HTML page.", json!({ "type": "string" }))],
            errors: &[404, 405, 429, 500],
            api_key: false,
        },
        Operation::SubmitJob => OperationDoc {
            operation_id: "submitJob",
            summary: "Run an intent as a background job",
            description: "Accepts any intent's input as a job and answers `202` at once, with \
                 `Location` (the job's URL) and `Retry-After` (when to poll). `input` is the body \
                 the intent's synchronous route takes and is validated now, with the same rules \
                 (a 422 with pointers into `/input/...`), except the larger job bounds: text up to \
                 1,000,000 characters (classify: 200,000), up to 5,000 documents (score, and \
                 `top_k`) or items (recommend), a body of at most 5 MiB.\n\n\
                 **Idempotency** (IETF `Idempotency-Key` draft): send a unique \
                 `Idempotency-Key` header and retry freely: the same key with the same body \
                 returns the original job (same id, run once); the same key with a different body \
                 is a 422 (`idempotency-key-reused`). Keys expire with their job. Without the \
                 header every submit is a new job.\n\n\
                 A 503 means the job could not be queued: retry with the same key to resume it.",
            tag: "jobs",
            request: Some("SubmitJobRequest"),
            success: vec![(
                202,
                "Accepted: the job resource, `queued`.",
                envelope_ref("JobResource"),
            )],
            errors: &[400, 403, 404, 405, 413, 415, 422, 429, 500, 503],
            api_key: true,
        },
        Operation::GetJob => OperationDoc {
            operation_id: "getJob",
            summary: "Read a job's status and result",
            description: "`queued`, `running`, `succeeded` or `failed`, with timestamps and the \
                 number of attempts. When `succeeded`, `result` is exactly the body the intent's \
                 synchronous route returns (with `meta`; `meta.request_id` is the job id); when \
                 `failed`, `error` is a problem document. While the job is pending the answer \
                 carries `Retry-After`. Unknown or expired jobs are 404.",
            tag: "jobs",
            request: None,
            success: vec![(200, "The job.", envelope_ref("JobResource"))],
            errors: &[403, 404, 405, 429, 500, 503],
            api_key: true,
        },
    }
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn envelope_ref(result: &str) -> Value {
    schema_ref(&envelope_name(result))
}

/// Component name of the success body that wraps `result` (e.g. `SummarizeResponse` →
/// `SummarizeEnvelope`).
fn envelope_name(result: &str) -> String {
    format!("{}Envelope", result.trim_end_matches("Response"))
}

/// The synchronous intent routes, whose input a generative provider may answer.
fn is_intent(op: Operation) -> bool {
    matches!(
        op,
        Operation::Summarize
            | Operation::Classify
            | Operation::Extract
            | Operation::Recommend
            | Operation::Score
    )
}

fn problem_description(status: u16, op: Operation) -> &'static str {
    match (status, op) {
        (400, Operation::SubmitJob) => {
            "Malformed JSON (a syntax error, trailing data, or an empty body), or an \
             `Idempotency-Key` that is not 1–255 printable ASCII characters."
        }
        (400, _) => "Malformed JSON: a syntax error, trailing data, or an empty body.",
        (403, _) => "Missing or invalid `x-api-key` (answered by API Gateway).",
        (404, Operation::GetFeedback) => "No feedback was given for this request id.",
        (404, Operation::GetJob) => "No such job: it never existed or has expired.",
        (404, _) => "No such route (or the route is deployed to another function).",
        (405, _) => "Method not allowed on this path; the `Allow` header lists the allowed ones.",
        (409, _) => {
            "Feedback with a different payload was already stored for this request id; the \
             stored one is kept."
        }
        (413, Operation::SubmitJob) => "The body is larger than 5 MiB.",
        (413, Operation::SummarizeStream) => {
            "The body is larger than 512 KiB, or (type `input-too-large`, before the stream \
             starts) the prompt a generative provider would be sent is estimated above the \
             deployment's cap of input tokens per request; `detail` gives the estimate and the \
             limit, and no model was called."
        }
        (413, _) if is_intent(op) => {
            "The body is larger than 512 KiB, or (type `input-too-large`) the prompt a generative \
             provider would be sent is estimated above the deployment's cap of input tokens per \
             request; `detail` gives the estimate and the limit, and no model was called. The \
             embedded provider has no such cap."
        }
        (413, _) => "The body is larger than 512 KiB.",
        (415, _) => "The body is not `application/json` (UTF-8).",
        (422, Operation::GetFeedback) => "The request id is not a valid id.",
        (422, Operation::SubmitJob) => {
            "The body does not follow the contract (`errors` lists every invalid value, with \
             pointers into `/input/...` for the intent's input), or the `Idempotency-Key` was \
             used before with a different body (type `idempotency-key-reused`)."
        }
        (422, _) => {
            "The body does not follow the contract: `errors` lists every invalid value with a \
             JSON pointer, a stable `code` and a message."
        }
        (429, _) => {
            "Too many requests (API Gateway's per-key throttle, or the model provider's); retry \
             after `Retry-After` seconds. A key past its daily quota gets a 429 without \
             `Retry-After`: the quota resets at 00:00 UTC."
        }
        (500, _) => "Unexpected error; opaque. Quote `request_id` when reporting it.",
        (502, _) => {
            "The model's answer is not usable, by problem `type`: `provider-output` (it did not \
             fit the contract even after one repair, or the provider answered with an error or \
             an unreadable body; `detail` says what was wrong), `provider-truncated` (cut off by \
             the model's output token limit or context window; never repaired), \
             `provider-refused` (the model, a content filter or a guardrail declined)."
        }
        (503, Operation::Health) => "A required dependency is down.",
        (503, Operation::SubmitJob) => {
            "The job could not be stored or queued. Retry after `Retry-After` seconds with the \
             same `Idempotency-Key` to resume the same job."
        }
        (503, _) => {
            "A dependency is unavailable; nothing was changed. Retry after `Retry-After` seconds."
        }
        (504, _) => {
            "The model did not answer before the request's deadline (`PROVIDER_TIMEOUT_MS`, \
             below API Gateway's 29 s)."
        }
        _ => "Error.",
    }
}

fn header(description: &str, schema: Value) -> Value {
    json!({ "description": description, "required": true, "schema": schema })
}

fn request_id_header() -> Value {
    json!({
        "description": "The request id, also in the body (`meta.request_id` or `request_id`) and in the logs.",
        "schema": { "type": "string" }
    })
}

fn responses(doc: &OperationDoc, op: Operation) -> Value {
    let mut out = Map::new();
    for (status, description, schema) in &doc.success {
        let media = match op {
            Operation::DocsPage => "text/html",
            Operation::SummarizeStream => "text/event-stream",
            _ => "application/json",
        };
        let mut headers = Map::new();
        headers.insert("x-request-id".into(), request_id_header());
        if op == Operation::SubmitJob {
            headers.insert(
                "Location".into(),
                header(
                    "The job's URL (`/v1/jobs/{job_id}`, under the path prefix the request used).",
                    json!({ "type": "string" }),
                ),
            );
        }
        if matches!(op, Operation::SubmitJob | Operation::GetJob) {
            headers.insert(
                "Retry-After".into(),
                json!({
                    "description": "While the job is `queued` or `running`: seconds to wait \
                        before polling again. Absent once it has finished.",
                    "required": op == Operation::SubmitJob,
                    "schema": { "type": "integer", "minimum": 1 }
                }),
            );
        }
        out.insert(
            status.to_string(),
            json!({
                "description": description,
                "headers": headers,
                "content": { media: { "schema": schema } }
            }),
        );
    }
    for &status in doc.errors {
        let mut headers = Map::new();
        headers.insert("x-request-id".into(), request_id_header());
        match status {
            405 => {
                headers.insert(
                    "Allow".into(),
                    header(
                        "The methods allowed on this path.",
                        json!({ "type": "string" }),
                    ),
                );
            }
            429 | 503 => {
                headers.insert(
                    "Retry-After".into(),
                    header(
                        "Seconds to wait before retrying.",
                        json!({ "type": "integer", "minimum": 0 }),
                    ),
                );
            }
            _ => {}
        }
        let mut content = Map::new();
        content.insert(
            PROBLEM_JSON.into(),
            json!({ "schema": schema_ref("Problem") }),
        );
        if status == 503 && op == Operation::Health {
            // A down dependency still returns the health report, so callers see which one.
            content.insert(
                "application/json".into(),
                json!({ "schema": schema_ref("HealthResponse") }),
            );
        }
        out.insert(
            status.to_string(),
            json!({
                "description": problem_description(status, op),
                "headers": headers,
                "content": content,
            }),
        );
    }
    Value::Object(out)
}

fn operation(route: &Route) -> Value {
    let doc = operation_doc(route.operation);
    let mut op = Map::new();
    op.insert("operationId".into(), json!(doc.operation_id));
    op.insert("summary".into(), json!(doc.summary));
    op.insert(
        "description".into(),
        json!(format!(
            "{}\n\nServed by the `{}` function.",
            doc.description,
            route.function.binary()
        )),
    );
    op.insert("tags".into(), json!([doc.tag]));
    let mut params: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| match name {
            "job_id" => json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": "The `job_id` that the submit returned.",
                "schema": { "type": "string", "minLength": 1, "maxLength": 128 }
            }),
            _ => json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": "`meta.request_id` of the response the feedback is about.",
                "schema": {
                    "type": "string", "minLength": 1, "maxLength": 128, "pattern": ID_PATTERN
                }
            }),
        })
        .collect();
    if route.operation == Operation::SubmitJob {
        params.push(json!({
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "A unique key per logical request (a UUID, say): retries with the same \
                key and body return the original job. Keys expire with their job.",
            "schema": {
                "type": "string", "minLength": 1, "maxLength": JOB_IDEMPOTENCY_KEY_MAX_CHARS,
                // Printable ASCII, not starting or ending with a space (surrounding white space
                // is trimmed, so it would not be part of the key).
                "pattern": "^[!-~]([ -~]*[!-~])?$"
            }
        }));
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if let Some(request) = doc.request {
        op.insert(
            "requestBody".into(),
            json!({
                "required": true,
                "description": if route.operation == Operation::SubmitJob {
                    format!("At most {} MiB of JSON.", JOB_MAX_BODY_BYTES / (1024 * 1024))
                } else {
                    format!("At most {} KiB of JSON.", MAX_BODY_BYTES / 1024)
                },
                "content": { "application/json": { "schema": schema_ref(request) } }
            }),
        );
    }
    op.insert("responses".into(), responses(&doc, route.operation));
    op.insert(
        "security".into(),
        if doc.api_key {
            json!([{ API_KEY_SCHEME: [] }])
        } else {
            json!([])
        },
    );
    Value::Object(op)
}

fn add_schema<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

/// The component schemas derived from the contract types, plus the envelopes and `Problem`.
fn component_schemas() -> Map<String, Value> {
    let mut derived = Vec::new();
    add_schema::<SummarizeRequest>(&mut derived);
    add_schema::<SummarizeResponse>(&mut derived);
    add_schema::<ClassifyRequest>(&mut derived);
    add_schema::<ClassifyResponse>(&mut derived);
    add_schema::<ExtractRequest>(&mut derived);
    add_schema::<ExtractResponse>(&mut derived);
    add_schema::<RecommendRequest>(&mut derived);
    add_schema::<RecommendResponse>(&mut derived);
    add_schema::<ScoreRequest>(&mut derived);
    add_schema::<ScoreResponse>(&mut derived);
    add_schema::<FeedbackRequest>(&mut derived);
    add_schema::<FeedbackResponse>(&mut derived);
    add_schema::<GetFeedbackResponse>(&mut derived);
    add_schema::<HealthResponse>(&mut derived);
    add_schema::<SubmitJobRequest>(&mut derived);
    add_schema::<JobResource>(&mut derived);
    add_schema::<Meta>(&mut derived);
    add_schema::<crate::streaming::events::StreamStart>(&mut derived);
    add_schema::<crate::streaming::events::StreamDelta>(&mut derived);
    add_schema::<crate::streaming::events::StreamDone>(&mut derived);
    add_schema::<crate::streaming::events::StreamError>(&mut derived);
    add_schema::<FieldError>(&mut derived);
    add_schema::<crate::contract::extract::Money>(&mut derived);

    // Sorted by name so that the document is byte-for-byte reproducible.
    let mut schemas: std::collections::BTreeMap<String, Value> = derived
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or(Value::Null)))
        .collect();

    // Envelopes: `#[serde(flatten)]` puts the result's fields next to `meta`, so the documented
    // body is one closed object with both (an allOf of two closed objects would match nothing).
    for result in [
        "SummarizeResponse",
        "ClassifyResponse",
        "ExtractResponse",
        "RecommendResponse",
        "ScoreResponse",
        "FeedbackResponse",
        "GetFeedbackResponse",
        "JobResource",
    ] {
        let Some(Value::Object(mut envelope)) = schemas.get(result).cloned() else {
            continue;
        };
        if let Some(Value::Object(props)) = envelope.get_mut("properties") {
            props.insert("meta".into(), schema_ref("Meta"));
        }
        if let Some(Value::Array(required)) = envelope.get_mut("required") {
            required.push(json!("meta"));
        }
        let described = format!(
            "The success body: the fields of `{result}` plus `meta`.{}",
            envelope
                .get("description")
                .and_then(Value::as_str)
                .map(|d| format!(" {d}"))
                .unwrap_or_default()
        );
        envelope.insert("description".into(), json!(described));
        schemas.insert(envelope_name(result), Value::Object(envelope));
        // Only the envelope is ever sent; keeping both would list the result twice in the docs.
        schemas.remove(result);
    }

    schemas.insert("Problem".into(), problem_schema());
    schemas.into_iter().collect()
}

/// [`crate::problem::Problem`], written out because it lives at the HTTP boundary rather than in
/// the contract; `tests/contract` checks it against real error bodies.
fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details, plus the request id and, on 422, every invalid value.",
        "required": ["type", "title", "status", "detail", "instance", "request_id"],
        "properties": {
            "type": {
                "type": "string",
                "description": "Stable URI of the kind of problem, e.g. `urn:intent-api:problem:validation`.",
                "examples": ["urn:intent-api:problem:validation"]
            },
            "title": { "type": "string", "description": "Short summary of the kind of problem." },
            "status": {
                "type": "integer", "minimum": 400, "maximum": 599,
                "description": "The HTTP status code."
            },
            "detail": {
                "type": "string",
                "description": "What went wrong for this request. Opaque on 5xx."
            },
            "instance": { "type": "string", "description": "The request path." },
            "request_id": { "type": "string", "description": "Quote it when reporting a problem." },
            "errors": {
                "type": "array",
                "items": schema_ref("FieldError"),
                "description": "Present on 422: one entry per invalid value."
            }
        },
        "additionalProperties": false
    })
}

const API_DESCRIPTION: &str = "\
Product intents as dependable APIs: summarize, classify, extract, recommend and score, with \
feedback on every answer. Each intent keeps its contract even when the model behind it does not: \
model output is validated against the same types as requests.

## Conventions

- **Authentication**: send the API key in the `x-api-key` header. `/v1/health`, \
`/v1/openapi.json` and `/docs` need none.
- **Requests** are JSON (`Content-Type: application/json`, at most 512 KiB). Unknown fields are \
rejected, every string and list has the bounds shown here, enums are closed, and ids are 1–128 \
characters of letters, digits, `.`, `_`, `:` or `-`, starting with a letter or digit. Rules that \
span several fields are listed on each operation.
- **Success bodies** are the intent's result fields plus `meta` (`request_id`, `api_version`, \
`provider`, `model`, `usage`, `latency_ms`). Scores are in [0, 1].
- **Errors** are RFC 9457 `application/problem+json` with `type`, `title`, `status`, `detail`, \
`instance`, `request_id` and, for validation (422), an `errors` list of `{pointer, code, message}` \
where `pointer` is an RFC 6901 JSON pointer into the request body. 429 and 503 carry \
`Retry-After`; 405 carries `Allow`; 5xx bodies never reveal internals.
- **Request ids**: every response has an `x-request-id` header; quote it in support requests.
- The API Gateway stage does not matter: `/Prod/v1/score` and `/v1/score` are the same route.";

/// Builds the document. Deterministic: the same code always gives the same bytes.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(route.method.to_ascii_lowercase(), operation(route));
        }
    }
    let tags: Vec<Value> = [
        ("summarize", "Extractive summaries."),
        (
            "classify",
            "Zero-shot classification into caller-given labels.",
        ),
        ("extract", "Typed field extraction."),
        ("recommend", "Ranking of candidate items for a profile."),
        ("score", "Relevance scoring and reranking."),
        ("feedback", "Feedback on earlier responses, stored durably."),
        (
            "jobs",
            "Any intent as a background job: submit (202), poll, result.",
        ),
        ("operations", "Health, this document and the docs page."),
    ]
    .into_iter()
    .map(|(name, description)| json!({ "name": name, "description": description }))
    .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Intent API",
            "version": format!("{API_VERSION} ({})", env!("CARGO_PKG_VERSION")),
            "description": API_DESCRIPTION,
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" }
        },
        "servers": [
            {
                "url": "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
                "description": "A deployed stack (see the `ApiUrl` output of `template.yaml`).",
                "variables": {
                    "api_id": { "default": "api_id" },
                    "region": { "default": "us-east-1" },
                    "stage": { "default": "Prod" }
                }
            },
            { "url": "http://127.0.0.1:3000", "description": "The local API (`local-api`)." }
        ],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                API_KEY_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "The API Gateway API key (output `ApiKeyId` of the stack)."
                }
            }
        }
    })
}

/// The document as committed in `openapi.json`: pretty-printed, with a final newline.
pub fn document_json() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

static DOCUMENT_JSON: LazyLock<String> = LazyLock::new(document_json);

/// Public and the same for every caller, so clients and CDNs may cache it briefly.
const CACHE_PUBLIC: &str = "public, max-age=300";

/// `GET /v1/openapi.json`.
pub fn document_response() -> Result<Response<Body>, ApiError> {
    let mut response = Response::new(Body::Text(DOCUMENT_JSON.clone()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_PUBLIC),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(response)
}

/// Loads the Redoc bundle; handed over by the docs function at cold start.
pub type AssetLoader = fn() -> Result<String, String>;

static REDOC_LOADER: OnceLock<AssetLoader> = OnceLock::new();
/// The bundle once loaded (or why it could not be), for the life of the process.
static REDOC_JS: OnceLock<Result<String, String>> = OnceLock::new();

/// Gives the docs page its renderer. Only the docs function calls this, so only its binary
/// carries the bundle.
pub fn install_docs_assets(load_redoc_standalone_js: AssetLoader) {
    let _ = REDOC_LOADER.set(load_redoc_standalone_js);
}

/// What the docs page allows: its own inline script and styles, Redoc's search worker (a blob)
/// and nothing from any other origin, so a stray CDN reference would fail loudly in testing.
const DOCS_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; img-src data:; font-src data:; worker-src blob:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The docs page; an error when the renderer was not installed in this function or could not
/// be loaded.
pub fn docs_page() -> Result<String, String> {
    let Some(load) = REDOC_LOADER.get() else {
        return Err(format!(
            "the docs page renderer is not installed in this function (only `{}` serves /docs)",
            Function::Docs.binary()
        ));
    };
    let redoc = REDOC_JS
        .get_or_init(load)
        .as_deref()
        .map_err(|e| format!("loading the docs page renderer: {e}"))?;
    // Inside a <script>, "</" could end the element early; "<\/" is the same JSON string.
    let spec = DOCUMENT_JSON.replace("</", "<\\/");
    let options = json!({
        "expandResponses": "200,201",
        "requiredPropsFirst": true,
        "pathInMiddlePanel": true,
        "jsonSampleExpandLevel": 3,
        "hideHostname": false,
        "theme": { "typography": { "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                                    "headings": { "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" } } }
    });
    Ok(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Intent API reference</title>\n<style>body{{margin:0}}</style>\n</head>\n<body>\n\
         <div id=\"redoc\"></div>\n\
         <!-- Redoc 2.5.4 (MIT licence, Redocly), vendored in functions/docs/assets. -->\n\
         <script>{redoc}</script>\n\
         <script>Redoc.init({spec}, {options}, document.getElementById(\"redoc\"));</script>\n\
         </body>\n</html>\n"
    ))
}

/// `GET /docs`.
pub fn docs_page_response() -> Result<Response<Body>, ApiError> {
    let page = docs_page().map_err(|e| ApiError::Unexpected(anyhow::anyhow!(e)))?;
    let mut response = Response::new(Body::Text(page));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_PUBLIC),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}
