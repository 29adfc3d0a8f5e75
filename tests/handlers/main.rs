//! Handler tests: every fixture in `events/` through the real handler, plus property tests of
//! each intent through the same HTTP boundary.
//!
//! # Layout
//! - fixture bookkeeping: every `events/**/*.json` has an entry in `events/expectations.json`
//!   and every entry has a file, so a fixture cannot silently go unchecked.
//! - one test per fixture group (`events/<function>.json` and `events/<function>/*.json`): each
//!   fixture is parsed with `lambda_http::request::from_str`, handled by `App::in_memory` of the
//!   function named by its first path component, and checked against the contract (status,
//!   request id, media type, strict body shape, scores in [0, 1]), the invariants of its intent
//!   (computed from the request it carries) and its expectation. Every failing fixture of a
//!   group is reported, not just the first.
//! - [`caller`]: the caller identity fixtures with the stores on DynamoDB Local, items read back.
//! - property tests: inputs no fixture holds (many limits, size boundaries built in memory,
//!   near-duplicate catalogues), checked for what each intent promises.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

mod caller;
mod event;

use event::{events_dir, post_json, rest_event};
use lambda_http::http::header;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::contract::classify::{ClassifyRequest, ClassifyResponse};
use shared::contract::extract::{ExtractRequest, ExtractResponse, FieldType, FieldValue};
use shared::contract::health::HealthResponse;
use shared::contract::limits::MAX_BODY_BYTES;
use shared::contract::recommend::{RecommendRequest, RecommendResponse};
use shared::contract::score::{ScoreRequest, ScoreResponse};
use shared::contract::summarize::{SummarizeRequest, SummarizeResponse};
use shared::contract::{Envelope, Meta, Span};
use shared::http::{App, handle};
use shared::problem::Problem;
use shared::routes::Function;

// ---------------------------------------------------------------------------------------------
// Expectations

/// One entry of `events/expectations.json`. Unknown keys are rejected so that a misspelt check
/// fails loudly instead of silently checking nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    status: u16,
    /// Exact JSON pointers of the 422 `errors`, sorted; a pointer appears once per rule broken.
    error_pointers: Option<Vec<String>>,
    /// Exact `Allow` header of a 405.
    allow: Option<String>,
    /// classify: the chosen label.
    label: Option<String>,
    /// classify: whether the classifier abstained (`label: null`).
    label_null: Option<bool>,
    /// classify: labels that must be among `selected`.
    selected_contains: Option<Vec<String>>,
    /// score / recommend: the id ranked first.
    top_id: Option<String>,
    /// score / recommend: the first id is one of these.
    top_id_in: Option<Vec<String>>,
    /// score: exact number of results.
    results_len: Option<usize>,
    /// extract: field name → expected JSON value (`null` for not found).
    field_values: Option<BTreeMap<String, Value>>,
    /// summarize: text the summary must contain.
    summary_contains: Option<String>,
    /// summarize: the most sentences the summary may have.
    max_sentences: Option<usize>,
    /// summarize: exact number of sentences found in the input.
    input_sentences: Option<u64>,
    /// recommend: the most items returned.
    max_items: Option<usize>,
    /// recommend: ids that must not be returned.
    never_ids: Option<Vec<String>>,
}

impl Expectation {
    /// Whether any check about a success body is set; those make no sense on an error fixture.
    fn has_intent_checks(&self) -> bool {
        self.label.is_some()
            || self.label_null.is_some()
            || self.selected_contains.is_some()
            || self.top_id.is_some()
            || self.top_id_in.is_some()
            || self.results_len.is_some()
            || self.field_values.is_some()
            || self.summary_contains.is_some()
            || self.max_sentences.is_some()
            || self.input_sentences.is_some()
            || self.max_items.is_some()
            || self.never_ids.is_some()
    }
}

const EXPECTATIONS: &str = "expectations.json";

fn load_expectations() -> BTreeMap<String, Expectation> {
    let path = events_dir().join(EXPECTATIONS);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is invalid: {e}", path.display()))
}

/// Every fixture under `events/`, as `/`-separated paths relative to it, sorted.
fn fixture_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                if rel != EXPECTATIONS {
                    out.push(rel);
                }
            }
        }
    }
    let root = events_dir();
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

/// `summarize.json` and `summarize/x.json` both belong to the `summarize` function.
fn group_of(rel: &str) -> &str {
    rel.split('/')
        .next()
        .unwrap_or(rel)
        .trim_end_matches(".json")
}

// ---------------------------------------------------------------------------------------------
// Running one request

/// A response split into what the checks read.
struct Answer {
    status: u16,
    content_type: Option<String>,
    request_id_header: Option<String>,
    allow: Option<String>,
    body: String,
}

async fn call(function: Function, request: Request) -> Answer {
    let app = App::in_memory(function);
    answer(handle(&app, request).await)
}

fn answer(response: Response<Body>) -> Answer {
    let header = |name: header::HeaderName| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("<not text>").to_owned())
    };
    let content_type = header(header::CONTENT_TYPE);
    let allow = header(header::ALLOW);
    let request_id_header = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap_or("<not text>").to_owned());
    let body = match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    Answer {
        status: response.status().as_u16(),
        content_type,
        request_id_header,
        allow,
        body,
    }
}

/// The request body as the handler saw it (base64 already decoded by `lambda_http`).
fn request_body(request: &Request) -> Vec<u8> {
    match request.body() {
        Body::Text(t) => t.as_bytes().to_vec(),
        Body::Binary(b) => b.clone(),
        _ => Vec::new(),
    }
}

/// Decodes a success body strictly: `Envelope` flattens its result, and serde ignores unknown
/// keys through `flatten` even when the inner type denies them, so the result fields and `meta`
/// are also decoded on their own, where `deny_unknown_fields` does apply.
fn decode_envelope<T: DeserializeOwned>(body: &str) -> Result<(T, Meta), String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("body is not JSON: {e}"))?;
    serde_json::from_value::<Envelope<T>>(value.clone())
        .map_err(|e| format!("body is not an Envelope: {e}"))?;
    let mut object = value
        .as_object()
        .cloned()
        .ok_or("body is not a JSON object")?;
    let meta = object.remove("meta").ok_or("body has no `meta`")?;
    let meta: Meta = serde_json::from_value(meta).map_err(|e| format!("bad `meta`: {e}"))?;
    let result: T = serde_json::from_value(Value::Object(object))
        .map_err(|e| format!("result fields do not match the contract: {e}"))?;
    Ok((result, meta))
}

fn in_unit_range(what: &str, score: f32, problems: &mut Vec<String>) {
    if !(0.0..=1.0).contains(&score) {
        problems.push(format!("{what} = {score} is outside [0, 1]"));
    }
}

/// The characters `span` covers, counted in code points as the contract says.
fn span_text(text: &str, span: Span) -> String {
    text.chars()
        .skip(span.start as usize)
        .take(span.end.saturating_sub(span.start) as usize)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Checking one fixture

/// Runs one fixture and returns every way it deviates from its expectation and the contract.
async fn check_fixture(rel: &str, expected: &Expectation) -> Vec<String> {
    let mut problems = Vec::new();
    let path: PathBuf = events_dir().join(rel);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return vec![format!("cannot read: {e}")],
    };
    let event: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return vec![format!("not JSON: {e}")],
    };
    let (request, request_copy) = match (
        lambda_http::request::from_str(&text),
        lambda_http::request::from_str(&text),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return vec![format!("not an API Gateway event: {e}")],
    };
    let Some(function) = Function::from_binary(group_of(rel)) else {
        return vec![format!("no function named '{}'", group_of(rel))];
    };
    let event_request_id = event["requestContext"]["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let stage = event["requestContext"]["stage"]
        .as_str()
        .unwrap_or_default();
    // `requestContext.path` always carries the stage; the problem `instance` must not.
    let stageless_path = event["requestContext"]["path"]
        .as_str()
        .unwrap_or_default()
        .strip_prefix(&format!("/{stage}"))
        .unwrap_or_default()
        .to_owned();

    let got = call(function, request).await;

    if got.status != expected.status {
        problems.push(format!(
            "status {} instead of {}; body: {}",
            got.status,
            expected.status,
            truncate(&got.body)
        ));
    }
    if got.status >= 500 {
        problems.push(format!(
            "server error {}: {}",
            got.status,
            truncate(&got.body)
        ));
    }
    match &got.request_id_header {
        Some(id) if *id == event_request_id => {}
        other => problems.push(format!(
            "x-request-id {other:?} differs from the event's requestId '{event_request_id}'"
        )),
    }
    if expected.status != 200 && expected.has_intent_checks() {
        problems.push("intent checks are set on a fixture that expects an error".into());
    }
    if expected.status == 422 && expected.error_pointers.is_none() {
        problems.push("a 422 fixture must list its error_pointers".into());
    }
    if expected.status == 405 && expected.allow.is_none() {
        problems.push("a 405 fixture must give the expected Allow header".into());
    }

    if (200..300).contains(&got.status) {
        if got.content_type.as_deref() != Some("application/json") {
            problems.push(format!("content-type {:?} on a success", got.content_type));
        }
        let body = request_body(&request_copy);
        check_success(function, &body, &got, expected, &mut problems);
    } else {
        check_problem(&got, expected, &stageless_path, &mut problems);
    }
    problems
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 400 {
        format!("{}…", s.chars().take(400).collect::<String>())
    } else {
        s.to_owned()
    }
}

fn check_problem(got: &Answer, expected: &Expectation, instance: &str, out: &mut Vec<String>) {
    if got.content_type.as_deref() != Some("application/problem+json") {
        out.push(format!("content-type {:?} on an error", got.content_type));
    }
    let problem: Problem = match serde_json::from_str(&got.body) {
        Ok(p) => p,
        Err(e) => {
            out.push(format!(
                "error body is not a Problem ({e}): {}",
                truncate(&got.body)
            ));
            return;
        }
    };
    if problem.status != got.status {
        out.push(format!(
            "problem status {} but HTTP status {}",
            problem.status, got.status
        ));
    }
    if Some(&problem.request_id) != got.request_id_header.as_ref() {
        out.push(format!(
            "problem request_id '{}' differs from x-request-id {:?}",
            problem.request_id, got.request_id_header
        ));
    }
    if problem.instance != instance {
        out.push(format!(
            "instance '{}' instead of the stage-less path '{instance}'",
            problem.instance
        ));
    }
    if problem.title.is_empty() || problem.detail.is_empty() || problem.kind.is_empty() {
        out.push("problem has an empty type, title or detail".into());
    }
    if got.status == 405 {
        if got.allow.is_none() {
            out.push("405 without an Allow header".into());
        }
    } else if got.allow.is_some() {
        out.push(format!("Allow header {:?} on a {}", got.allow, got.status));
    }
    if let Some(allow) = &expected.allow
        && got.allow.as_ref() != Some(allow)
    {
        out.push(format!("Allow {:?} instead of '{allow}'", got.allow));
    }
    match (got.status, &problem.errors) {
        (422, None) => out.push("422 without `errors`".into()),
        (422, Some(errors)) if errors.is_empty() => out.push("422 with empty `errors`".into()),
        (422, Some(_)) | (_, None) => {}
        (status, Some(_)) => out.push(format!("`errors` on a {status}")),
    }
    if let (Some(want), Some(errors)) = (&expected.error_pointers, &problem.errors) {
        let mut have: Vec<String> = errors.iter().map(|e| e.pointer.clone()).collect();
        have.sort();
        let mut want = want.clone();
        want.sort();
        if have != want {
            out.push(format!(
                "error pointers {have:?} instead of {want:?}; errors: {errors:?}"
            ));
        }
        for e in errors {
            if e.code.is_empty() || e.message.is_empty() {
                out.push(format!("field error without code or message: {e:?}"));
            }
        }
    }
}

/// Decodes the success body for `function`, then checks the intent's invariants (from the
/// request the fixture carries) and the fixture's own expectations.
fn check_success(
    function: Function,
    request_body: &[u8],
    got: &Answer,
    expected: &Expectation,
    out: &mut Vec<String>,
) {
    fn meta_ok(meta: &Meta, got: &Answer, out: &mut Vec<String>) {
        if Some(&meta.request_id) != got.request_id_header.as_ref() {
            out.push(format!(
                "meta.request_id '{}' differs from x-request-id {:?}",
                meta.request_id, got.request_id_header
            ));
        }
        if meta.api_version != "v1" || meta.provider.is_empty() || meta.model.is_empty() {
            out.push(format!("incomplete meta: {meta:?}"));
        }
    }
    fn request<T: DeserializeOwned>(body: &[u8], out: &mut Vec<String>) -> Option<T> {
        serde_json::from_slice(body)
            .map_err(|e| out.push(format!("the fixture's own request does not parse: {e}")))
            .ok()
    }
    macro_rules! decoded {
        ($t:ty) => {
            match decode_envelope::<$t>(&got.body) {
                Ok((result, meta)) => {
                    meta_ok(&meta, got, out);
                    result
                }
                Err(e) => {
                    out.push(format!("{e}; body: {}", truncate(&got.body)));
                    return;
                }
            }
        };
    }
    match function {
        Function::Summarize => {
            let result = decoded!(SummarizeResponse);
            if let Some(req) = request::<SummarizeRequest>(request_body, out) {
                summarize_invariants(&req, &result, out);
            }
            summarize_expectations(&result, expected, out);
        }
        Function::Classify => {
            let result = decoded!(ClassifyResponse);
            if let Some(req) = request::<ClassifyRequest>(request_body, out) {
                classify_invariants(&req, &result, out);
            }
            classify_expectations(&result, expected, out);
        }
        Function::Extract => {
            let result = decoded!(ExtractResponse);
            if let Some(req) = request::<ExtractRequest>(request_body, out) {
                extract_invariants(&req, &result, out);
            }
            extract_expectations(&result, expected, out);
        }
        Function::Recommend => {
            let result = decoded!(RecommendResponse);
            if let Some(req) = request::<RecommendRequest>(request_body, out) {
                recommend_invariants(&req, &result, out);
            }
            let ids: Vec<&str> = result.items.iter().map(|i| i.id.as_str()).collect();
            ranked_expectations(&ids, expected, out);
            if let Some(max) = expected.max_items
                && ids.len() > max
            {
                out.push(format!("{} items, more than {max}", ids.len()));
            }
            for never in expected.never_ids.iter().flatten() {
                if ids.contains(&never.as_str()) {
                    out.push(format!("returned '{never}', which must never be returned"));
                }
            }
        }
        Function::Score => {
            let result = decoded!(ScoreResponse);
            if let Some(req) = request::<ScoreRequest>(request_body, out) {
                score_invariants(&req, &result, out);
            }
            let ids: Vec<&str> = result.results.iter().map(|r| r.id.as_str()).collect();
            ranked_expectations(&ids, expected, out);
            if let Some(len) = expected.results_len
                && ids.len() != len
            {
                out.push(format!("{} results instead of {len}", ids.len()));
            }
        }
        Function::Health => match serde_json::from_str::<HealthResponse>(&got.body) {
            Ok(health) => {
                if health.checks.is_empty() || health.version.is_empty() {
                    out.push(format!("health report is incomplete: {health:?}"));
                }
            }
            Err(e) => out.push(format!(
                "not a HealthResponse ({e}): {}",
                truncate(&got.body)
            )),
        },
        // A submit (202): the job resource, `queued`, nothing run yet.
        Function::Jobs => {
            let job = decoded!(shared::contract::jobs::JobResource);
            if job.status != shared::contract::jobs::JobStatus::Queued
                || job.attempts != 0
                || job.result.is_some()
                || job.error.is_some()
                || job.job_id.len() != 36
            {
                out.push(format!("not a fresh queued job: {}", truncate(&got.body)));
            }
        }
        // Their fixtures and response checks belong to other suites (the streaming route's events
        // are checked by `tests/streaming`).
        Function::Feedback
        | Function::Docs
        | Function::JobWorker
        | Function::Authorizer
        | Function::SummarizeStream => {
            out.push(format!("no success checks are written for {function} yet"));
        }
    }
}

fn ranked_expectations(ids: &[&str], expected: &Expectation, out: &mut Vec<String>) {
    let first = ids.first().copied();
    if let Some(top) = &expected.top_id
        && first != Some(top.as_str())
    {
        out.push(format!(
            "first id {first:?} instead of '{top}'; ranking {ids:?}"
        ));
    }
    if let Some(tops) = &expected.top_id_in
        && !first.is_some_and(|f| tops.iter().any(|t| t == f))
    {
        out.push(format!(
            "first id {first:?} is not one of {tops:?}; ranking {ids:?}"
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Intent invariants: what must hold for ANY valid request, checked on every success fixture
// and reused by the property tests.

fn summarize_invariants(req: &SummarizeRequest, res: &SummarizeResponse, out: &mut Vec<String>) {
    let max = usize::from(req.max_sentences);
    if res.sentences.is_empty() || res.sentences.len() > max {
        out.push(format!(
            "{} sentences for max_sentences {max}",
            res.sentences.len()
        ));
    }
    if res.sentences.len() as u64 > res.input_sentences {
        out.push("more sentences chosen than the input has".into());
    }
    let mut previous: Option<(u64, u64)> = None;
    for (k, s) in res.sentences.iter().enumerate() {
        in_unit_range(&format!("sentences[{k}].score"), s.score, out);
        if span_text(&req.text, s.span) != s.text {
            out.push(format!(
                "sentences[{k}] '{}' is not the input text at its span {:?} ('{}')",
                s.text,
                s.span,
                span_text(&req.text, s.span)
            ));
        }
        if s.text.trim().is_empty() || s.text.trim() != s.text {
            out.push(format!(
                "sentences[{k}] is blank or untrimmed: {:?}",
                s.text
            ));
        }
        if s.index >= res.input_sentences {
            out.push(format!("sentences[{k}].index {} is out of range", s.index));
        }
        if let Some((index, end)) = previous
            && (s.index <= index || s.span.start < end)
        {
            out.push(format!("sentences[{k}] is not in document order"));
        }
        previous = Some((s.index, s.span.end));
    }
    let joined = res
        .sentences
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    if res.summary != joined {
        out.push("summary is not the chosen sentences joined by a space".into());
    }
}

fn summarize_expectations(res: &SummarizeResponse, expected: &Expectation, out: &mut Vec<String>) {
    if let Some(needle) = &expected.summary_contains
        && !res.summary.contains(needle.as_str())
    {
        out.push(format!("summary lacks '{needle}': '{}'", res.summary));
    }
    if let Some(max) = expected.max_sentences
        && res.sentences.len() > max
    {
        out.push(format!(
            "{} sentences, more than {max}",
            res.sentences.len()
        ));
    }
    if let Some(n) = expected.input_sentences
        && res.input_sentences != n
    {
        out.push(format!(
            "input_sentences {} instead of {n}",
            res.input_sentences
        ));
    }
}

fn classify_invariants(req: &ClassifyRequest, res: &ClassifyResponse, out: &mut Vec<String>) {
    in_unit_range("threshold", res.threshold, out);
    if let Some(t) = req.threshold
        && (f64::from(res.threshold) - t).abs() > 1e-6
    {
        out.push(format!(
            "threshold {} instead of the requested {t}",
            res.threshold
        ));
    }
    let given: HashSet<&str> = req.labels.iter().map(|l| l.name.as_str()).collect();
    let scored: HashSet<&str> = res.labels.iter().map(|l| l.name.as_str()).collect();
    if given != scored || res.labels.len() != req.labels.len() {
        out.push(format!(
            "scored labels {scored:?} are not exactly the given ones {given:?}"
        ));
    }
    for (k, l) in res.labels.iter().enumerate() {
        in_unit_range(&format!("labels[{k}].score"), l.score, out);
    }
    if res.labels.windows(2).any(|w| w[0].score < w[1].score) {
        out.push("labels are not sorted by score, highest first".into());
    }
    if res.label.as_ref() != res.selected.first() {
        out.push(format!(
            "label {:?} is not the first selected {:?}",
            res.label, res.selected
        ));
    }
    if !req.multi_label && res.selected.len() > 1 {
        out.push(format!(
            "several labels selected without multi_label: {:?}",
            res.selected
        ));
    }
    let score_of = |name: &str| res.labels.iter().find(|l| l.name == name).map(|l| l.score);
    for name in &res.selected {
        match score_of(name) {
            Some(s) if s >= res.threshold => {}
            other => out.push(format!(
                "selected '{name}' has score {other:?}, below the threshold {}",
                res.threshold
            )),
        }
    }
    // Selection is "every label reaching the threshold" (or the best one of them).
    let reaching = res
        .labels
        .iter()
        .filter(|l| l.score >= res.threshold)
        .count();
    let want = if req.multi_label {
        reaching
    } else {
        reaching.min(1)
    };
    if res.selected.len() != want {
        out.push(format!(
            "{} labels selected but {want} reach the threshold",
            res.selected.len()
        ));
    }
}

fn classify_expectations(res: &ClassifyResponse, expected: &Expectation, out: &mut Vec<String>) {
    if let Some(label) = &expected.label
        && res.label.as_ref() != Some(label)
    {
        out.push(format!(
            "label {:?} instead of '{label}'; {:?}",
            res.label, res.labels
        ));
    }
    if let Some(null) = expected.label_null
        && res.label.is_none() != null
    {
        out.push(format!(
            "label {:?}, expected null: {null}; {:?}",
            res.label, res.labels
        ));
    }
    for want in expected.selected_contains.iter().flatten() {
        if !res.selected.contains(want) {
            out.push(format!(
                "'{want}' not selected: {:?}; {:?}",
                res.selected, res.labels
            ));
        }
    }
}

fn extract_invariants(req: &ExtractRequest, res: &ExtractResponse, out: &mut Vec<String>) {
    let names: Vec<&str> = res.fields.iter().map(|f| f.name.as_str()).collect();
    let asked: Vec<&str> = req.fields.iter().map(|f| f.name.as_str()).collect();
    if names != asked {
        out.push(format!(
            "fields {names:?} are not the requested {asked:?} in order"
        ));
    }
    for (field, spec) in res.fields.iter().zip(&req.fields) {
        in_unit_range(&format!("{}.confidence", field.name), field.confidence, out);
        if field.kind != spec.kind {
            out.push(format!(
                "{}: type {:?} instead of {:?}",
                field.name, field.kind, spec.kind
            ));
        }
        match (&field.value, field.span) {
            (None, None) => {
                if field.confidence != 0.0 {
                    out.push(format!(
                        "{}: null value with confidence {}",
                        field.name, field.confidence
                    ));
                }
            }
            (None, Some(_)) => out.push(format!("{}: a span without a value", field.name)),
            (Some(value), span) => {
                if let Err(why) = value_has_declared_type(value, spec.kind, spec.values.as_deref())
                {
                    out.push(format!("{}: {why}", field.name));
                }
                if let Some(span) = span
                    && let Err(why) = value_matches_span(&req.text, span, value, spec.kind)
                {
                    out.push(format!("{}: {why}", field.name));
                }
            }
        }
    }
}

/// The JSON shape of a value follows its declared type (the `untagged` enum accepts any shape).
fn value_has_declared_type(
    value: &FieldValue,
    kind: FieldType,
    values: Option<&[String]>,
) -> Result<(), String> {
    let ok = match (kind, value) {
        (FieldType::Boolean, FieldValue::Boolean(_)) => true,
        (FieldType::Integer, FieldValue::Integer(_)) => true,
        (FieldType::Number, FieldValue::Number(_) | FieldValue::Integer(_)) => true,
        (FieldType::Money, FieldValue::Money(m)) => m
            .currency
            .as_ref()
            .is_none_or(|c| c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase())),
        (FieldType::Date, FieldValue::Text(s)) => {
            s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-'
        }
        (FieldType::Enum, FieldValue::Text(s)) => values.unwrap_or_default().contains(s),
        (
            FieldType::String | FieldType::Email | FieldType::Phone | FieldType::Url,
            FieldValue::Text(s),
        ) => !s.trim().is_empty(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("value {value:?} is not a {kind:?}"))
    }
}

/// The text at `span` is where `value` came from: the value itself for textual types, the same
/// digits for phones, the amount for money, a yes/no word for booleans.
fn value_matches_span(
    text: &str,
    span: Span,
    value: &FieldValue,
    kind: FieldType,
) -> Result<(), String> {
    if span.start >= span.end || span.end as usize > text.chars().count() {
        return Err(format!("span {span:?} is empty or outside the text"));
    }
    let at = span_text(text, span);
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let ok = match (kind, value) {
        (FieldType::String | FieldType::Email | FieldType::Url, FieldValue::Text(s)) => at == *s,
        (FieldType::Enum, FieldValue::Text(s)) => at.to_lowercase().contains(&s.to_lowercase()),
        (FieldType::Phone, FieldValue::Text(s)) => {
            digits(&at).ends_with(&digits(s)) || digits(s).ends_with(&digits(&at))
        }
        (FieldType::Date, FieldValue::Text(s)) => {
            // Written dates vary (`11 April 2025`, `03.02.2025`); the day number survives.
            let day = s.get(8..10).unwrap_or_default().trim_start_matches('0');
            digits(&at).contains(day)
        }
        (FieldType::Money, FieldValue::Money(m)) => {
            let whole = format!("{}", m.amount.trunc() as i64);
            digits(&at).starts_with(&whole)
        }
        (FieldType::Integer, FieldValue::Integer(i)) => digits(&at) == i.abs().to_string(),
        (FieldType::Number, FieldValue::Number(n)) => {
            digits(&at).starts_with(&format!("{}", n.abs().trunc() as i64))
        }
        (FieldType::Number, FieldValue::Integer(i)) => digits(&at) == i.abs().to_string(),
        (FieldType::Boolean, FieldValue::Boolean(_)) => !at.trim().is_empty(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "value {value:?} did not come from the text at {span:?}: '{at}'"
        ))
    }
}

fn extract_expectations(res: &ExtractResponse, expected: &Expectation, out: &mut Vec<String>) {
    for (name, want) in expected.field_values.iter().flatten() {
        match res.fields.iter().find(|f| f.name == *name) {
            None => out.push(format!("no field '{name}' in the response")),
            Some(field) => {
                let have = serde_json::to_value(&field.value).unwrap_or(Value::Null);
                if have != *want {
                    out.push(format!("{name} = {have} instead of {want}"));
                }
            }
        }
    }
}

fn recommend_invariants(req: &RecommendRequest, res: &RecommendResponse, out: &mut Vec<String>) {
    let candidates: HashSet<&str> = req.items.iter().map(|i| i.id.as_str()).collect();
    let mut seen = HashSet::new();
    for (k, item) in res.items.iter().enumerate() {
        in_unit_range(&format!("items[{k}].score"), item.score, out);
        let id = item.id.as_str();
        if !candidates.contains(id) {
            out.push(format!("'{id}' is not a candidate"));
        }
        if req.exclude_ids.iter().any(|x| x == id) {
            out.push(format!("'{id}' was excluded"));
        }
        if req.profile.liked_ids.iter().any(|x| x == id) {
            out.push(format!("'{id}' was already liked"));
        }
        if !seen.insert(id) {
            out.push(format!("'{id}' is returned twice"));
        }
        if item.reason.trim().is_empty() {
            out.push(format!("'{id}' has no reason"));
        }
    }
    let eligible = req
        .items
        .iter()
        .filter(|i| !req.exclude_ids.contains(&i.id) && !req.profile.liked_ids.contains(&i.id))
        .count();
    let want = eligible.min(req.limit as usize);
    if res.items.len() != want {
        out.push(format!(
            "{} items for {eligible} eligible candidates and limit {}",
            res.items.len(),
            req.limit
        ));
    }
}

fn score_invariants(req: &ScoreRequest, res: &ScoreResponse, out: &mut Vec<String>) {
    let want = req.top_k.map_or(req.documents.len(), |k| {
        (k as usize).min(req.documents.len())
    });
    if res.results.len() != want {
        out.push(format!("{} results instead of {want}", res.results.len()));
    }
    let mut seen = HashSet::new();
    for (k, r) in res.results.iter().enumerate() {
        in_unit_range(&format!("results[{k}].score"), r.score, out);
        match req.documents.get(r.index as usize) {
            Some(d) if d.id == r.id => {}
            _ => out.push(format!(
                "results[{k}]: index {} is not document '{}'",
                r.index, r.id
            )),
        }
        if !seen.insert(r.id.as_str()) {
            out.push(format!("'{}' is returned twice", r.id));
        }
    }
    if res.results.windows(2).any(|w| w[0].score < w[1].score) {
        out.push("results are not sorted by score, highest first".into());
    }
}

// ---------------------------------------------------------------------------------------------
// Fixture tests

#[test]
fn every_fixture_has_an_expectation_and_every_expectation_a_fixture() {
    // Arrange
    let files: HashSet<String> = fixture_files().into_iter().collect();
    let expectations = load_expectations();

    // Act
    let mut unexpected: Vec<&String> = files
        .iter()
        .filter(|f| !expectations.contains_key(*f))
        .collect();
    unexpected.sort();
    let orphans: Vec<&String> = expectations
        .keys()
        .filter(|k| !files.contains(*k))
        .collect();
    let unknown_groups: Vec<&String> = files
        .iter()
        .filter(|f| Function::from_binary(group_of(f)).is_none())
        .collect();

    // Assert
    assert!(
        unexpected.is_empty() && orphans.is_empty() && unknown_groups.is_empty(),
        "fixtures without expectation: {unexpected:?}\nexpectations without fixture: {orphans:?}\n\
         fixtures of no function: {unknown_groups:?}"
    );
}

/// The functions whose fixtures this suite owns (feedback and docs come with their own).
const FIXTURE_FUNCTIONS: [Function; 7] = [
    Function::Summarize,
    Function::Classify,
    Function::Extract,
    Function::Recommend,
    Function::Score,
    Function::Health,
    Function::Jobs,
];

#[test]
fn every_function_has_its_main_fixture() {
    for function in FIXTURE_FUNCTIONS {
        let main = events_dir().join(format!("{}.json", function.binary()));
        assert!(main.is_file(), "{} is missing", main.display());
    }
}

/// Runs every fixture of one function and fails with the list of all that deviate.
async fn check_group(function: Function) {
    // Arrange
    let expectations = load_expectations();
    let fixtures: Vec<String> = fixture_files()
        .into_iter()
        .filter(|f| group_of(f) == function.binary())
        .collect();
    assert!(!fixtures.is_empty(), "no fixtures for {function}");

    // Act
    let mut failures = Vec::new();
    for rel in &fixtures {
        let Some(expected) = expectations.get(rel) else {
            failures.push(format!("{rel}: no expectation"));
            continue;
        };
        for problem in check_fixture(rel, expected).await {
            failures.push(format!("{rel}: {problem}"));
        }
    }

    // Assert
    assert!(
        failures.is_empty(),
        "{} of {} {function} fixtures failed:\n{}",
        failures
            .iter()
            .map(|f| f.split(':').next().unwrap_or_default())
            .collect::<HashSet<_>>()
            .len(),
        fixtures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn summarize_fixtures_get_their_expected_responses() {
    check_group(Function::Summarize).await;
}

#[tokio::test]
async fn classify_fixtures_get_their_expected_responses() {
    check_group(Function::Classify).await;
}

#[tokio::test]
async fn extract_fixtures_get_their_expected_responses() {
    check_group(Function::Extract).await;
}

#[tokio::test]
async fn recommend_fixtures_get_their_expected_responses() {
    check_group(Function::Recommend).await;
}

#[tokio::test]
async fn score_fixtures_get_their_expected_responses() {
    check_group(Function::Score).await;
}

#[tokio::test]
async fn health_fixtures_get_their_expected_responses() {
    check_group(Function::Health).await;
}

#[tokio::test]
async fn jobs_fixtures_get_their_expected_responses() {
    check_group(Function::Jobs).await;
}

// ---------------------------------------------------------------------------------------------
// Property tests through the handler

/// POSTs `body` to the route of `function` and decodes the success envelope.
async fn post_ok<T: DeserializeOwned>(function: Function, body: &Value) -> T {
    let path = format!("/v1/{}", function.binary());
    let request =
        post_json(&path, &body.to_string(), "req-property").expect("a valid generated event");
    let got = call(function, request).await;
    assert_eq!(got.status, 200, "{path}: {}", got.body);
    match decode_envelope::<T>(&got.body) {
        Ok((result, _)) => result,
        Err(e) => panic!("{path}: {e}; body: {}", got.body),
    }
}

fn assert_no_problems(context: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{context}:\n{}", problems.join("\n"));
}

const REPORT: &str = "Q3 results for the Zürich office: revenue rose 12 percent to 4.2 million \
    francs. The growth came mainly from the new café chain contracts signed in July. Battery \
    life of the handheld scanners remains the top complaint from field staff. Staff turnover \
    fell to 8 percent, the lowest in five years. The scanners' battery lasts about six hours, \
    while a full shift takes nine. Marketing spent 310,000 francs on the autumn campaign. \
    Management will test replacement batteries from two suppliers in November. The office \
    moves to a larger building in Oerlikon next spring. A new battery supplier could cut \
    scanner downtime by half, according to the pilot team.";

#[tokio::test]
async fn summarize_returns_whole_input_sentences_in_order_and_never_more_than_max_sentences() {
    for max_sentences in 1..=8u8 {
        // Arrange
        let body = json!({ "text": REPORT, "max_sentences": max_sentences });
        let request: SummarizeRequest = serde_json::from_value(body.clone()).expect("valid");

        // Act
        let result: SummarizeResponse = post_ok(Function::Summarize, &body).await;

        // Assert
        let mut problems = Vec::new();
        summarize_invariants(&request, &result, &mut problems);
        if result.sentences.len() != usize::from(max_sentences) {
            // The report has 9 sentences, so every requested count can be met exactly.
            problems.push(format!(
                "{} sentences for max_sentences {max_sentences}",
                result.sentences.len()
            ));
        }
        assert_no_problems(&format!("max_sentences {max_sentences}"), problems);
    }
}

#[tokio::test]
async fn summarize_with_focus_chooses_sentences_about_the_focus() {
    // Arrange
    let focused = json!({ "text": REPORT, "max_sentences": 3, "focus": "scanner battery" });
    let unfocused = json!({ "text": REPORT, "max_sentences": 3 });

    // Act
    let with_focus: SummarizeResponse = post_ok(Function::Summarize, &focused).await;
    let without_focus: SummarizeResponse = post_ok(Function::Summarize, &unfocused).await;

    // Assert
    let about = |s: &SummarizeResponse| {
        s.sentences
            .iter()
            .filter(|x| x.text.to_lowercase().contains("batter"))
            .count()
    };
    assert_eq!(
        about(&with_focus),
        3,
        "every focused sentence should be about batteries: {:?}",
        with_focus.summary
    );
    assert!(
        about(&with_focus) > about(&without_focus),
        "the focus changed nothing: {:?} vs {:?}",
        with_focus.summary,
        without_focus.summary
    );
}

fn support_labels() -> Value {
    json!([
        { "name": "billing", "description": "Charges, invoices, refunds and payment methods." },
        { "name": "technical_issue", "description": "Crashes, errors, bugs, login problems." },
        { "name": "account", "description": "Email, password, profile, closing the account." },
        { "name": "shipping", "description": "Delivery, tracking, late or lost parcels." }
    ])
}

#[tokio::test]
async fn classify_scores_are_sorted_in_range_and_label_is_the_first_selected() {
    let messages = [
        "I was charged twice, please refund the second payment on my invoice.",
        "The app crashes with an error when I log in.",
        "My parcel is late and the tracking page shows an error; also refund the shipping charge.",
        "Please change the email on my account profile.",
        "Nice weather today.",
    ];
    for text in messages {
        for multi_label in [false, true] {
            // Arrange
            let body =
                json!({ "text": text, "labels": support_labels(), "multi_label": multi_label });
            let request: ClassifyRequest = serde_json::from_value(body.clone()).expect("valid");

            // Act
            let result: ClassifyResponse = post_ok(Function::Classify, &body).await;

            // Assert
            let mut problems = Vec::new();
            classify_invariants(&request, &result, &mut problems);
            assert_no_problems(&format!("'{text}', multi_label {multi_label}"), problems);
        }
    }
}

#[tokio::test]
async fn extract_spans_point_at_the_text_each_value_came_from() {
    // Arrange: non-ASCII before every value, so byte offsets and code-point offsets differ.
    let text = "Café Zürich — Rechnung 🧾\n\
        Invoice number: INV-7781\n\
        Rechnungsdatum: 3 März 2025\n\
        Due date: 2025-04-02\n\
        Total: 1.234,56 €\n\
        Contact: buchhaltung@café-zürich.example or kasse@cafe-zuerich.example\n\
        Phone: +41 44 555 01 23\n\
        Website: https://cafe-zuerich.example/rechnung\n\
        Quantity: 12\n\
        Express: yes\n\
        Status: überfällig\n";
    let body = json!({
        "text": text,
        "fields": [
            { "name": "invoice_number", "type": "string" },
            { "name": "due_date", "type": "date" },
            { "name": "total", "type": "money" },
            { "name": "contact", "type": "email" },
            { "name": "phone", "type": "phone" },
            { "name": "website", "type": "url" },
            { "name": "quantity", "type": "integer" },
            { "name": "express", "type": "boolean" },
            { "name": "status", "type": "enum", "values": ["bezahlt", "offen", "Überfällig"] }
        ]
    });
    let request: ExtractRequest = serde_json::from_value(body.clone()).expect("valid");

    // Act
    let result: ExtractResponse = post_ok(Function::Extract, &body).await;

    // Assert
    let mut problems = Vec::new();
    extract_invariants(&request, &result, &mut problems);
    for field in &result.fields {
        if field.value.is_none() {
            problems.push(format!("{} was not found", field.name));
        } else if field.span.is_none() {
            problems.push(format!("{} has a value but no span", field.name));
        }
    }
    let value = |name: &str| {
        result
            .fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| serde_json::to_value(&f.value).ok())
    };
    for (name, want) in [
        ("invoice_number", json!("INV-7781")),
        ("due_date", json!("2025-04-02")),
        ("total", json!({ "amount": 1234.56, "currency": "EUR" })),
        ("quantity", json!(12)),
        ("express", json!(true)),
        ("status", json!("Überfällig")),
    ] {
        if value(name).as_ref() != Some(&want) {
            problems.push(format!("{name} = {:?} instead of {want}", value(name)));
        }
    }
    assert_no_problems("extract spans", problems);
}

#[tokio::test]
async fn score_ranks_a_document_with_the_query_terms_above_one_without() {
    // Arrange: the matching document is last, so position cannot explain the ranking.
    let body = json!({
        "query": "refund a duplicate card payment",
        "documents": [
            { "id": "holidays", "text": "The office is closed on public holidays." },
            { "id": "shipping", "text": "Parcels ship within two working days from our warehouse." },
            { "id": "refunds", "text": "A duplicate card payment is refunded within five days." }
        ]
    });
    let request: ScoreRequest = serde_json::from_value(body.clone()).expect("valid");

    // Act
    let result: ScoreResponse = post_ok(Function::Score, &body).await;

    // Assert
    let mut problems = Vec::new();
    score_invariants(&request, &result, &mut problems);
    assert_no_problems("score invariants", problems);
    assert_eq!(result.results[0].id, "refunds", "{result:?}");
    assert!(
        result.results[0].score > result.results[1].score,
        "the match is not scored above the rest: {result:?}"
    );
    assert_eq!(result.results[0].index, 2);
}

/// A catalogue where three topics each have near-duplicate items, and the profile is mostly
/// about the first topic, so pure relevance picks near-duplicates.
fn near_duplicate_catalogue() -> Value {
    let mut items = Vec::new();
    for i in 0..5 {
        items.push(json!({
            "id": format!("shoes-{i}"),
            "text": format!("Trail running shoes model {i} with grippy outsole for trail running races")
        }));
    }
    for i in 0..5 {
        items.push(json!({
            "id": format!("tent-{i}"),
            "text": format!("Ultralight camping tent model {i} for trail running fastpacking trips")
        }));
    }
    for i in 0..5 {
        items.push(json!({
            "id": format!("lamp-{i}"),
            "text": format!("Headlamp model {i} for night running on the trail")
        }));
    }
    Value::Array(items)
}

#[tokio::test]
async fn recommend_never_returns_excluded_liked_or_repeated_ids() {
    for (limit, diversity) in [(1, 0.0), (3, 0.3), (8, 0.7), (50, 1.0)] {
        // Arrange
        let body = json!({
            "profile": { "text": "trail running races at night", "liked_ids": ["shoes-0", "lamp-4"] },
            "items": near_duplicate_catalogue(),
            "exclude_ids": ["shoes-1", "tent-2", "not-in-catalogue"],
            "limit": limit,
            "diversity": diversity
        });
        let request: RecommendRequest = serde_json::from_value(body.clone()).expect("valid");

        // Act
        let result: RecommendResponse = post_ok(Function::Recommend, &body).await;

        // Assert
        let mut problems = Vec::new();
        recommend_invariants(&request, &result, &mut problems);
        assert_no_problems(&format!("limit {limit}, diversity {diversity}"), problems);
    }
}

#[tokio::test]
async fn recommend_with_full_diversity_spreads_results_across_topics() {
    // Arrange
    let request = |diversity: f32| {
        json!({
            "profile": { "text": "trail running shoes with grippy outsole for races" },
            "items": near_duplicate_catalogue(),
            "limit": 3,
            "diversity": diversity
        })
    };
    let topics = |r: &RecommendResponse| {
        r.items
            .iter()
            .map(|i| i.id.split('-').next().unwrap_or_default().to_owned())
            .collect::<HashSet<_>>()
            .len()
    };

    // Act
    let relevant: RecommendResponse = post_ok(Function::Recommend, &request(0.0)).await;
    let diverse: RecommendResponse = post_ok(Function::Recommend, &request(1.0)).await;

    // Assert
    assert_eq!(topics(&relevant), 1, "pure relevance: {relevant:?}");
    assert!(
        topics(&diverse) > topics(&relevant),
        "diversity 1.0 covers {} topics, diversity 0.0 covers {}: {diverse:?}",
        topics(&diverse),
        topics(&relevant)
    );
}

/// A valid request body for each POST function, padded with trailing whitespace (which JSON
/// allows) to exactly `size` bytes.
fn padded_body(function: Function, size: usize) -> String {
    let body = match function {
        Function::Summarize => json!({ "text": "Short text. Two sentences." }),
        Function::Classify => json!({ "text": "refund please", "labels": support_labels() }),
        Function::Extract => {
            json!({ "text": "Total: $5", "fields": [{ "name": "total", "type": "money" }] })
        }
        Function::Recommend => {
            json!({ "profile": { "text": "trail" }, "items": near_duplicate_catalogue() })
        }
        Function::Score => {
            json!({ "query": "trail", "documents": [{ "id": "a", "text": "trail" }] })
        }
        Function::Health
        | Function::Feedback
        | Function::Docs
        | Function::Jobs
        | Function::JobWorker
        | Function::Authorizer
        | Function::SummarizeStream => json!({}),
    }
    .to_string();
    format!("{body}{}", " ".repeat(size.saturating_sub(body.len())))
}

const POST_FUNCTIONS: [Function; 5] = [
    Function::Summarize,
    Function::Classify,
    Function::Extract,
    Function::Recommend,
    Function::Score,
];

#[tokio::test]
async fn accepts_a_body_of_exactly_512_kib_on_every_post_route() {
    for function in POST_FUNCTIONS {
        // Arrange
        let body = padded_body(function, MAX_BODY_BYTES);
        assert_eq!(body.len(), MAX_BODY_BYTES);
        let request = post_json(&format!("/v1/{function}"), &body, "req-at-limit").expect("event");

        // Act
        let got = call(function, request).await;

        // Assert
        assert_eq!(got.status, 200, "{function}: {}", truncate(&got.body));
    }
}

#[tokio::test]
async fn rejects_a_body_one_byte_over_512_kib_with_413_on_every_post_route() {
    for function in POST_FUNCTIONS {
        // Arrange
        let body = padded_body(function, MAX_BODY_BYTES + 1);
        let request = post_json(&format!("/v1/{function}"), &body, "req-over").expect("event");

        // Act
        let got = call(function, request).await;

        // Assert
        assert_eq!(got.status, 413, "{function}: {}", truncate(&got.body));
        let problem: Problem = serde_json::from_str(&got.body).expect("a problem body");
        assert_eq!(problem.status, 413);
        assert_eq!(problem.instance, format!("/v1/{function}"));
        assert_eq!(
            got.content_type.as_deref(),
            Some("application/problem+json")
        );
    }
}

#[tokio::test]
async fn rejects_duplicate_labels_with_422_pointing_at_the_repeat() {
    // Arrange
    let body = json!({
        "text": "refund please",
        "labels": [{ "name": "billing" }, { "name": "account" }, { "name": "shipping" }, { "name": "BILLING" }]
    })
    .to_string();
    let request = post_json("/v1/classify", &body, "req-dup").expect("event");

    // Act
    let got = call(Function::Classify, request).await;

    // Assert
    assert_eq!(got.status, 422);
    let problem: Problem = serde_json::from_str(&got.body).expect("a problem body");
    let errors = problem.errors.expect("validation errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].pointer, "/labels/3/name");
    assert_eq!(errors[0].code, "duplicate");
}

#[tokio::test]
async fn answers_with_a_fresh_request_id_when_api_gateway_sends_none() {
    // Arrange
    let event = rest_event("GET", "/v1/health", None, None, "");
    let request = lambda_http::request::from_str(&event.to_string()).expect("event");

    // Act
    let got = call(Function::Health, request).await;

    // Assert
    assert_eq!(got.status, 200, "{}", got.body);
    let id = got.request_id_header.expect("an x-request-id header");
    assert!(!id.is_empty());
}

#[tokio::test]
async fn stage_prefixed_and_bare_paths_give_the_same_answer() {
    for function in POST_FUNCTIONS {
        // Arrange
        let body = padded_body(function, 0);
        let bare = rest_event(
            "POST",
            &format!("/v1/{function}"),
            Some("application/json"),
            Some(&body),
            "r1",
        );
        let mut staged = bare.clone();
        staged["path"] = json!(format!("/Prod/v1/{function}"));

        // Act
        let a = call(
            function,
            lambda_http::request::from_str(&bare.to_string()).expect("event"),
        )
        .await;
        let b = call(
            function,
            lambda_http::request::from_str(&staged.to_string()).expect("event"),
        )
        .await;

        // Assert
        assert_eq!(
            (a.status, b.status),
            (200, 200),
            "{function}: {} / {}",
            a.body,
            b.body
        );
        let strip = |s: &str| {
            let mut v: Value = serde_json::from_str(s).expect("JSON");
            v["meta"]["latency_ms"] = json!(0);
            v
        };
        assert_eq!(strip(&a.body), strip(&b.body), "{function}");
    }
}
