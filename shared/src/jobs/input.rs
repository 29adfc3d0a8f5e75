//! A job's input: checked at submit time with the intent's own contract and the larger job
//! bounds, and later run by the worker through the same intent code as the synchronous route.
//!
//! The job bounds are applied by validating the input as the synchronous route would, then
//! re-judging only the bound errors that the job bounds relax (`/text` length, `/documents`
//! count…) against the job limit. Every other rule, message and pointer stays the contract's
//! own, so a job input is valid exactly when the synchronous body would be, up to size.

use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::contract::classify::ClassifyRequest;
use crate::contract::extract::ExtractRequest;
use crate::contract::jobs::{JobIntent, SubmitJobRequest};
use crate::contract::limits::*;
use crate::contract::recommend::RecommendRequest;
use crate::contract::score::ScoreRequest;
use crate::contract::summarize::SummarizeRequest;
use crate::contract::{FieldError, Semantic, Usage};
use crate::http::parse_and_validate;
use crate::intents::{self, Outcome};
use crate::problem::ApiError;
use crate::provider::{Deadline, Provider};

/// A submit body that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidInput {
    pub intent: JobIntent,
    /// The input as JSON text, stored and later run.
    pub input: String,
    /// sha256 of the intent and the input's canonical JSON (keys sorted), the idempotency
    /// fingerprint: a retry that reorders keys is still the same request.
    pub request_sha256: String,
}

/// Parses a submit body and checks its input against the intent's contract with the job bounds.
/// Errors point into the submit body (`/input/text`). `generative` says whether the workers'
/// provider writes abstractive summaries; if not, asking for one is a 422 now, as on the
/// synchronous route, rather than a job that fails later.
pub fn validate(body: &[u8], generative: bool) -> Result<ValidInput, ApiError> {
    let request: SubmitJobRequest = parse_and_validate(body)?;
    let bytes = serde_json::to_vec(&request.input)
        .map_err(|e| ApiError::Unexpected(anyhow::Error::new(e).context("re-serialising input")))?;
    let checked = match request.intent {
        JobIntent::Summarize => check::<SummarizeRequest>(&bytes),
        JobIntent::Classify => check::<ClassifyRequest>(&bytes),
        JobIntent::Extract => check::<ExtractRequest>(&bytes),
        JobIntent::Recommend => check::<RecommendRequest>(&bytes),
        JobIntent::Score => check::<ScoreRequest>(&bytes),
    };
    let mut errors: Vec<FieldError> = match checked {
        Ok(()) => Vec::new(),
        Err(ApiError::Validation(errors)) => relax(request.intent, errors, &request.input),
        Err(ApiError::MalformedJson(message)) => {
            vec![FieldError::new("", "type", message)]
        }
        Err(other) => return Err(other),
    };
    if !generative
        && request.intent == JobIntent::Summarize
        && request.input.get("style").and_then(Value::as_str) == Some("abstractive")
    {
        errors.push(FieldError::new(
            "/style",
            "unsupported",
            "an abstractive summary needs a generative provider (INTENT_PROVIDER=bedrock or \
             openai); the embedded engine writes extractive summaries",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(
            errors
                .into_iter()
                .map(|e| FieldError {
                    pointer: format!("/input{}", e.pointer),
                    ..e
                })
                .collect(),
        ));
    }
    let mut hasher = Sha256::new();
    hasher.update(request.intent.as_str());
    hasher.update(b"\n");
    hasher.update(canonical(&request.input));
    Ok(ValidInput {
        intent: request.intent,
        input: String::from_utf8_lossy(&bytes).into_owned(),
        request_sha256: hex::encode(hasher.finalize()),
    })
}

fn check<T: DeserializeOwned + validator::Validate + Semantic>(
    bytes: &[u8],
) -> Result<(), ApiError> {
    parse_and_validate::<T>(bytes).map(|_| ())
}

/// The job bound that replaces the synchronous one for this error, if any.
fn job_bound(intent: JobIntent, pointer: &str, code: &str) -> Option<u64> {
    match (intent, pointer, code) {
        (JobIntent::Summarize, "/text", "length") => Some(JOB_SUMMARIZE_MAX_TEXT_CHARS),
        (JobIntent::Classify, "/text", "length") => Some(JOB_CLASSIFY_MAX_TEXT_CHARS),
        (JobIntent::Extract, "/text", "length") => Some(JOB_EXTRACT_MAX_TEXT_CHARS),
        (JobIntent::Recommend, "/items" | "/exclude_ids", "length") => {
            Some(JOB_RECOMMEND_MAX_ITEMS)
        }
        (JobIntent::Score, "/documents", "length") | (JobIntent::Score, "/top_k", "range") => {
            Some(JOB_SCORE_MAX_DOCUMENTS)
        }
        _ => None,
    }
}

/// Drops the bound errors the job bounds allow and restates the others with the job bound.
fn relax(intent: JobIntent, errors: Vec<FieldError>, input: &Value) -> Vec<FieldError> {
    errors
        .into_iter()
        .filter_map(|e| {
            let Some(bound) = job_bound(intent, &e.pointer, &e.code) else {
                return Some(e);
            };
            let (size, unit) = match input.pointer(&e.pointer) {
                Some(Value::String(s)) => (s.chars().count() as u64, "characters"),
                Some(Value::Array(a)) => (a.len() as u64, "items"),
                Some(Value::Number(n)) => (n.as_u64().unwrap_or(0), ""),
                _ => return Some(e),
            };
            // Below the minimum: the contract's own error stands.
            if size == 0 {
                return Some(e);
            }
            if size <= bound {
                return None;
            }
            let message = if unit.is_empty() {
                format!("must be between 1 and {bound} for a job")
            } else {
                format!("must have 1 to {bound} {unit} for a job")
            };
            Some(FieldError { message, ..e })
        })
        .collect()
}

/// JSON text with object keys sorted at every level.
fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// A job input that ran: the envelope, and who answered at what cost (for the metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    /// The envelope the synchronous route would return, as JSON text.
    pub envelope: String,
    pub provider: &'static str,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
    pub fallback_reason: Option<&'static str>,
}

/// Runs a stored input through the intent, exactly as the synchronous route does, and returns
/// the envelope that route would return; `meta.request_id` is the job id.
pub async fn run(
    provider: &dyn Provider,
    intent: JobIntent,
    input: &str,
    job_id: &str,
    deadline: Deadline,
) -> Result<Ran, ApiError> {
    let started = Instant::now();
    match intent {
        JobIntent::Summarize => {
            let request: SummarizeRequest = stored(input)?;
            envelope(
                intents::summarize::summarize(provider, &request, deadline).await?,
                job_id,
                started,
            )
        }
        JobIntent::Classify => {
            let request: ClassifyRequest = stored(input)?;
            envelope(
                intents::classify::classify(provider, &request, deadline).await?,
                job_id,
                started,
            )
        }
        JobIntent::Extract => {
            let request: ExtractRequest = stored(input)?;
            envelope(
                intents::extract::extract(provider, &request, deadline).await?,
                job_id,
                started,
            )
        }
        JobIntent::Recommend => {
            let request: RecommendRequest = stored(input)?;
            envelope(
                intents::recommend::recommend(provider, &request, deadline).await?,
                job_id,
                started,
            )
        }
        JobIntent::Score => {
            let request: ScoreRequest = stored(input)?;
            envelope(
                intents::score::score(provider, &request, deadline).await?,
                job_id,
                started,
            )
        }
    }
}

/// A stored input was validated at submit; one that no longer parses is our fault, not the
/// caller's (opaque 500 in the job's error).
fn stored<T: DeserializeOwned>(input: &str) -> Result<T, ApiError> {
    serde_json::from_str(input).map_err(|e| {
        ApiError::Unexpected(anyhow::Error::new(e).context("the stored job input does not parse"))
    })
}

fn envelope<T: Serialize>(
    outcome: Outcome<T>,
    job_id: &str,
    started: Instant,
) -> Result<Ran, ApiError> {
    let (provider, usage, cost_usd, fallback_reason) = (
        outcome.provider,
        outcome.usage,
        outcome.cost_usd,
        outcome.fallback_reason,
    );
    let envelope = serde_json::to_string(&crate::http::envelope(outcome, job_id, started))
        .map_err(|e| ApiError::Unexpected(anyhow::Error::new(e).context("serialising a result")))?;
    Ok(Ran {
        envelope,
        provider,
        usage,
        cost_usd,
        fallback_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate_embedded(body: &[u8]) -> Result<ValidInput, ApiError> {
        validate(body, false)
    }

    #[test]
    fn an_abstractive_summary_is_refused_at_submit_unless_the_provider_is_generative() {
        let body = submit(
            "summarize",
            serde_json::json!({"text": "One. Two.", "style": "abstractive"}),
        );
        let err = validate_embedded(&body).expect_err("must be rejected");
        assert_eq!(pointers(err)[0].0, "/input/style");
        assert!(validate(&body, true).is_ok());
    }

    fn submit(intent: &str, input: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"intent": intent, "input": input}))
            .expect("must succeed")
    }

    fn pointers(err: ApiError) -> Vec<(String, String)> {
        match err {
            ApiError::Validation(errors) => {
                errors.into_iter().map(|e| (e.pointer, e.message)).collect()
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_text_above_the_synchronous_bound_and_below_the_job_bound() {
        let text = "A sentence about budgets. ".repeat(10_000); // 260,000 characters
        let valid = validate_embedded(&submit("summarize", serde_json::json!({"text": text})))
            .expect("must succeed");
        assert_eq!(valid.intent, JobIntent::Summarize);
        let err = validate_embedded(&submit(
            "classify",
            serde_json::json!({"text": text, "labels": [{"name": "a"}, {"name": "b"}]}),
        ))
        .expect_err("must be rejected");
        assert_eq!(
            pointers(err),
            vec![(
                "/input/text".to_owned(),
                "must have 1 to 200000 characters for a job".to_owned()
            )]
        );
    }

    #[test]
    fn keeps_every_other_rule_of_the_contract_with_pointers_into_input() {
        let err = validate_embedded(&submit(
            "score",
            serde_json::json!({"query": " ", "documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}),
        ))
        .expect_err("must be rejected");
        let found: Vec<String> = pointers(err).into_iter().map(|(p, _)| p).collect();
        assert_eq!(found, vec!["/input/documents/1/id", "/input/query"]);
        let err = validate_embedded(&submit(
            "score",
            serde_json::json!({"query": "q", "documents": []}),
        ))
        .expect_err("must be rejected");
        assert_eq!(pointers(err)[0].0, "/input/documents");
        let err = validate_embedded(&submit("summarize", serde_json::json!({"txt": "x"})))
            .expect_err("must be rejected");
        assert_eq!(pointers(err)[0].0, "/input/txt");
    }

    #[test]
    fn allows_five_thousand_documents_and_a_matching_top_k() {
        let documents: Vec<Value> = (0..5000)
            .map(|i| serde_json::json!({"id": format!("d{i}"), "text": "some text"}))
            .collect();
        let ok = validate_embedded(&submit(
            "score",
            serde_json::json!({"query": "q", "documents": documents, "top_k": 5000}),
        ));
        assert!(ok.is_ok(), "{ok:?}");
        let mut too_many = documents.clone();
        too_many.push(serde_json::json!({"id": "extra", "text": "x"}));
        let err = validate_embedded(&submit(
            "score",
            serde_json::json!({"query": "q", "documents": too_many}),
        ))
        .expect_err("must be rejected");
        assert_eq!(
            pointers(err),
            vec![(
                "/input/documents".to_owned(),
                "must have 1 to 5000 items for a job".to_owned()
            )]
        );
    }

    #[test]
    fn rejects_unknown_intents_and_fields_of_the_submit_body() {
        let err = validate_embedded(&submit("translate", serde_json::json!({})))
            .expect_err("must be rejected");
        assert_eq!(pointers(err)[0].0, "/intent");
        let body = br#"{"intent": "score", "input": {}, "priority": 1}"#;
        assert_eq!(
            pointers(validate_embedded(body).expect_err("must be rejected"))[0].0,
            "/priority"
        );
        assert!(matches!(
            validate_embedded(b"{not json"),
            Err(ApiError::MalformedJson(_))
        ));
    }

    #[test]
    fn the_fingerprint_ignores_key_order_but_not_values() {
        let a = validate_embedded(
            br#"{"intent": "summarize", "input": {"text": "Hi there.", "max_sentences": 1}}"#,
        )
        .expect("must succeed");
        let b = validate_embedded(
            br#"{"input": {"max_sentences": 1, "text": "Hi there."}, "intent": "summarize"}"#,
        )
        .expect("must succeed");
        let c = validate_embedded(
            br#"{"intent": "summarize", "input": {"text": "Hi there.", "max_sentences": 2}}"#,
        )
        .expect("must succeed");
        assert_eq!(a.request_sha256, b.request_sha256);
        assert_ne!(a.request_sha256, c.request_sha256);
    }
}
