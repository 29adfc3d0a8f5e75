//! The structured-output loop shared by every intent: call, check the stop reason, decode, and
//! repair at most once, all within the request's deadline, summing usage over both calls.
//!
//! Order matters. The stop reason is read before the content: an answer cut by the token limit
//! is incomplete by construction and a refusal is a decision, so neither is parsed or repaired.
//! Only an answer that is complete but does not decode (bad JSON, wrong shape, an index the task
//! does not have) earns one repair call, which shows the model its answer and what was wrong with
//! it, and only when the deadline leaves at least as much time as the first call took.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::intents::Prompt;
use super::{
    AnswerContent, ChatModel, ModelAnswer, OutputSchema, RefusalKind, Repair, StopReason,
    StructuredCall, TokenUsage, UpstreamError,
};
use crate::intents::retry_after_s;
use crate::provider::{Deadline, ProviderError};

/// Longest error list sent back to the model in a repair call, in characters.
const MAX_REPAIR_ERRORS_CHARS: usize = 1_500;
/// Longest `detail` of a 502, in characters.
const MAX_DETAIL_CHARS: usize = 600;
/// Below this much time left a call is not started: it could not finish.
const MIN_CALL_TIME: Duration = Duration::from_millis(250);
/// A repair is attempted only with at least this much time left (and at least as much as the
/// first call took).
const MIN_REPAIR_TIME: Duration = Duration::from_secs(1);

/// What the calls of one request cost, on success and on failure alike.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spend {
    pub usage: TokenUsage,
    /// Calls made: 1, or 2 with a repair.
    pub attempts: u32,
    /// The model that answered last, as the upstream named it.
    pub model: Option<String>,
    pub stop: Option<StopReason>,
}

/// One intent's request to the loop.
pub struct Request<'a> {
    pub intent: &'static str,
    pub prompt: &'a Prompt,
    pub schema: &'a OutputSchema,
    pub deadline: Deadline,
}

/// Runs the call (and at most one repair) and decodes the answer with `decode`. The spend is
/// returned in both cases, so a failed request's tokens are still accounted.
pub async fn run<T>(
    chat: &dyn ChatModel,
    request: Request<'_>,
    decode: impl Fn(&Value) -> Result<T, Vec<String>>,
) -> (Result<T, ProviderError>, Spend) {
    let mut spend = Spend::default();
    let result = run_inner(chat, &request, &decode, &mut spend).await;
    (result, spend)
}

async fn run_inner<T>(
    chat: &dyn ChatModel,
    request: &Request<'_>,
    decode: &impl Fn(&Value) -> Result<T, Vec<String>>,
    spend: &mut Spend,
) -> Result<T, ProviderError> {
    let first_started = Instant::now();
    let first = call(chat, request, None, spend).await?;
    let first_took = first_started.elapsed();
    let (text, errors) = match interpret(&first, decode) {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(rejected)) => rejected,
        Err(final_error) => return Err(final_error),
    };

    let left = request.deadline.remaining();
    if left < first_took.max(MIN_REPAIR_TIME) {
        return Err(ProviderError::BadOutput(detail(
            "the model's answer did not follow the required structure and the deadline left \
             no time to repair it",
            &errors,
        )));
    }
    let listed = cap(&errors.join("\n"), MAX_REPAIR_ERRORS_CHARS);
    let repair = Repair {
        previous_answer: &text,
        errors: &listed,
    };
    let second = call(chat, request, Some(repair), spend).await?;
    match interpret(&second, decode) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err((_, errors))) => Err(ProviderError::BadOutput(detail(
            "the model's answer did not follow the required structure, twice",
            &errors,
        ))),
        Err(final_error) => Err(final_error),
    }
}

/// One upstream call, accounted in `spend` and logged.
async fn call(
    chat: &dyn ChatModel,
    request: &Request<'_>,
    repair: Option<Repair<'_>>,
    spend: &mut Spend,
) -> Result<ModelAnswer, ProviderError> {
    if request.deadline.remaining() < MIN_CALL_TIME {
        return Err(ProviderError::Timeout);
    }
    let started = Instant::now();
    let structured = StructuredCall {
        intent: request.intent,
        system: request.prompt.system,
        user: &request.prompt.user,
        repair,
        schema: request.schema,
        max_tokens: request.prompt.max_tokens,
        deadline: request.deadline,
    };
    spend.attempts += 1;
    let outcome = chat.call(&structured).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(answer) => {
            spend.usage.add(answer.usage);
            spend.model = answer.model.clone();
            spend.stop = Some(answer.stop.clone());
            tracing::info!(
                event = "model_call",
                intent = request.intent,
                provider = chat.provider(),
                model = chat.model(),
                attempt = spend.attempts,
                repair = repair.is_some(),
                input_tokens = answer.usage.input,
                output_tokens = answer.usage.output,
                stop_reason = answer.stop.as_str(),
                latency_ms,
                "model answered"
            );
            Ok(answer)
        }
        Err(err) => {
            // The upstream's own words go to the log only; clients get the classified error.
            tracing::warn!(
                event = "model_call",
                intent = request.intent,
                provider = chat.provider(),
                model = chat.model(),
                attempt = spend.attempts,
                repair = repair.is_some(),
                latency_ms,
                error = %err,
                "model call failed"
            );
            Err(upstream_error(err))
        }
    }
}

/// What an answer means: a decoded value, a rejection worth one repair (the answer's text and
/// the errors), or a final error.
#[allow(clippy::type_complexity)]
fn interpret<T>(
    answer: &ModelAnswer,
    decode: &impl Fn(&Value) -> Result<T, Vec<String>>,
) -> Result<Result<T, (String, Vec<String>)>, ProviderError> {
    match &answer.stop {
        StopReason::Complete => {}
        StopReason::MaxTokens => {
            return Err(ProviderError::Truncated(
                "the model's answer was cut off by its output token limit, so it is incomplete; \
                 send a shorter input or fewer items"
                    .to_owned(),
            ));
        }
        StopReason::Refused(kind) => {
            return Err(ProviderError::Refused(
                match kind {
                    RefusalKind::Model => "the model refused to answer this request",
                    RefusalKind::ContentFilter => {
                        "the provider's content filter stopped the answer"
                    }
                    RefusalKind::Guardrail => "the configured guardrail intervened",
                }
                .to_owned(),
            ));
        }
        // A tool call the model botched is a malformed answer like any other: worth a repair.
        StopReason::Other(reason) if reason == "malformed_tool_use" => {}
        StopReason::Other(reason) if reason == "model_context_window_exceeded" => {
            return Err(ProviderError::Truncated(
                "the input is larger than the model's context window; send a shorter input"
                    .to_owned(),
            ));
        }
        StopReason::Other(reason) => {
            return Err(ProviderError::BadOutput(format!(
                "the model stopped for an unexpected reason ({})",
                cap(reason, 60)
            )));
        }
    }
    let (text, value) = match &answer.content {
        AnswerContent::Json(value) => (value.to_string(), Ok(value.clone())),
        AnswerContent::Text(text) => (text.clone(), parse_json_text(text)),
        AnswerContent::Empty => (
            String::new(),
            Err("the model returned no content".to_owned()),
        ),
    };
    Ok(match value {
        Ok(value) => decode(&value).map_err(|errors| (text, errors)),
        Err(why) => Err((text, vec![why])),
    })
}

/// Parses a text answer as one JSON document. Models in plain JSON mode sometimes wrap it in a
/// Markdown code fence; that wrapper is removed, nothing else is forgiven.
fn parse_json_text(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    let unfenced = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .unwrap_or(trimmed);
    serde_json::from_str(unfenced).map_err(|e| format!("the answer is not valid JSON: {e}"))
}

/// The client-facing error of a failed call. Upstream text stays in the log.
pub(crate) fn upstream_error(err: UpstreamError) -> ProviderError {
    match err {
        UpstreamError::Throttled { retry_after, .. } => ProviderError::Throttled {
            retry_after_s: retry_after_s(retry_after),
        },
        UpstreamError::Unavailable {
            retry_after,
            detail,
        } => ProviderError::Unavailable {
            reason: detail,
            retry_after_s: retry_after_s(retry_after),
        },
        UpstreamError::Timeout => ProviderError::Timeout,
        UpstreamError::BadAnswer(_) => ProviderError::BadOutput(
            "the model provider returned an error or a response that could not be read".to_owned(),
        ),
        UpstreamError::Misconfigured(cause) => ProviderError::Misconfigured(cause),
    }
}

fn detail(summary: &str, errors: &[String]) -> String {
    cap(
        &format!("{summary}: {}", errors.join("; ")),
        MAX_DETAIL_CHARS,
    )
}

fn cap(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}...", &text[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_json_is_unwrapped_and_nothing_else_is_forgiven() {
        assert_eq!(
            parse_json_text("```json\n{\"a\": 1}\n```"),
            Ok(serde_json::json!({"a": 1}))
        );
        assert!(parse_json_text("Sure! {\"a\": 1}").is_err());
        assert!(parse_json_text("{\"a\": NaN}").is_err());
    }

    #[test]
    fn details_are_capped() {
        let errors = vec!["x".repeat(2000)];
        assert!(detail("bad", &errors).chars().count() <= MAX_DETAIL_CHARS + 3);
    }
}

#[cfg(test)]
mod loop_tests {
    //! The loop against a scripted chat port: each test says what the upstream answers, call by
    //! call, and checks what the loop made of it and how many calls it spent.

    use std::sync::Mutex;

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::provider::generative::intents::Prompt;

    struct Scripted {
        answers: Mutex<Vec<Result<ModelAnswer, UpstreamError>>>,
        /// The repair errors each call saw (`None` for a first call).
        seen: Mutex<Vec<Option<String>>>,
        /// Simulated time each call takes.
        takes: Duration,
    }

    impl Scripted {
        fn new(answers: Vec<Result<ModelAnswer, UpstreamError>>) -> Scripted {
            Scripted {
                answers: Mutex::new(answers.into_iter().rev().collect()),
                seen: Mutex::new(Vec::new()),
                takes: Duration::ZERO,
            }
        }

        fn calls(&self) -> usize {
            self.seen.lock().expect("lock").len()
        }
    }

    #[async_trait]
    impl ChatModel for Scripted {
        fn provider(&self) -> &'static str {
            "openai"
        }
        fn model(&self) -> &str {
            "gpt-4o-mini"
        }
        async fn call(&self, call: &StructuredCall<'_>) -> Result<ModelAnswer, UpstreamError> {
            self.seen
                .lock()
                .expect("lock")
                .push(call.repair.map(|r| r.errors.to_owned()));
            tokio::time::sleep(self.takes).await;
            self.answers
                .lock()
                .expect("lock")
                .pop()
                .expect("the test scripted enough answers")
        }
    }

    fn answer(content: AnswerContent, stop: StopReason) -> Result<ModelAnswer, UpstreamError> {
        Ok(ModelAnswer {
            content,
            stop,
            usage: TokenUsage {
                input: 100,
                output: 10,
                cache_read: None,
                cache_write: None,
            },
            model: None,
        })
    }

    fn text(t: &str) -> Result<ModelAnswer, UpstreamError> {
        answer(AnswerContent::Text(t.to_owned()), StopReason::Complete)
    }

    /// Accepts `{"n": <0..=3>}`.
    fn decode(v: &Value) -> Result<u8, Vec<String>> {
        match v.get("n").and_then(Value::as_u64) {
            Some(n) if n <= 3 => Ok(n as u8),
            _ => Err(vec!["/n: must be a whole number from 0 to 3".to_owned()]),
        }
    }

    async fn run_with(chat: &Scripted, budget: Duration) -> (Result<u8, ProviderError>, Spend) {
        let prompt = Prompt {
            system: "s",
            user: "u".to_owned(),
            max_tokens: 10,
        };
        let schema = OutputSchema {
            name: "n",
            description: "d",
            schema: json!({}),
        };
        run(
            chat,
            Request {
                intent: "classify",
                prompt: &prompt,
                schema: &schema,
                deadline: Deadline::after(budget),
            },
            decode,
        )
        .await
    }

    #[tokio::test]
    async fn a_valid_answer_takes_one_call() {
        let chat = Scripted::new(vec![answer(
            AnswerContent::Json(json!({"n": 2})),
            StopReason::Complete,
        )]);
        let (result, spend) = run_with(&chat, Duration::from_secs(5)).await;
        assert_eq!(result.expect("valid"), 2);
        assert_eq!((spend.attempts, chat.calls()), (1, 1));
        assert_eq!(spend.usage.input, 100);
    }

    #[tokio::test]
    async fn bad_json_is_repaired_once_with_the_errors_and_usage_is_summed() {
        let chat = Scripted::new(vec![text("{\"n\": 7}"), text("{\"n\": 3}")]);
        let (result, spend) = run_with(&chat, Duration::from_secs(5)).await;
        assert_eq!(result.expect("repaired"), 3);
        assert_eq!(spend.attempts, 2);
        assert_eq!((spend.usage.input, spend.usage.output), (200, 20));
        let seen = chat.seen.lock().expect("lock").clone();
        assert_eq!(seen[0], None);
        assert!(
            seen[1]
                .as_deref()
                .is_some_and(|e| e.contains("/n: must be")),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn a_second_bad_answer_is_a_502_after_exactly_two_calls() {
        let chat = Scripted::new(vec![text("not json"), text("{\"n\": \"three\"}")]);
        let (result, spend) = run_with(&chat, Duration::from_secs(5)).await;
        let Err(ProviderError::BadOutput(detail)) = result else {
            panic!("expected BadOutput, got {result:?}");
        };
        assert!(
            detail.contains("twice") && detail.contains("/n"),
            "{detail}"
        );
        assert_eq!((spend.attempts, chat.calls()), (2, 2));
    }

    #[tokio::test]
    async fn truncated_and_refused_answers_are_never_repaired() {
        let cases = [
            (StopReason::MaxTokens, "truncated"),
            (StopReason::Refused(RefusalKind::Model), "refused"),
            (StopReason::Refused(RefusalKind::Guardrail), "refused"),
            (StopReason::Refused(RefusalKind::ContentFilter), "refused"),
        ];
        for (stop, kind) in cases {
            let chat = Scripted::new(vec![answer(AnswerContent::Text("{\"n\":".into()), stop)]);
            let (result, spend) = run_with(&chat, Duration::from_secs(5)).await;
            match (kind, &result) {
                ("truncated", Err(ProviderError::Truncated(_)))
                | ("refused", Err(ProviderError::Refused(_))) => {}
                _ => panic!("{kind}: {result:?}"),
            }
            assert_eq!(spend.attempts, 1, "{kind}");
            assert_eq!(
                spend.usage.output, 10,
                "{kind}: the call is still accounted"
            );
        }
    }

    #[tokio::test]
    async fn no_repair_when_the_deadline_leaves_no_room() {
        let mut chat = Scripted::new(vec![text("{}"), text("{\"n\": 1}")]);
        chat.takes = Duration::from_millis(700);
        let (result, spend) = run_with(&chat, Duration::from_millis(1200)).await;
        let Err(ProviderError::BadOutput(detail)) = result else {
            panic!("expected BadOutput, got {result:?}");
        };
        assert!(detail.contains("no time to repair"), "{detail}");
        assert_eq!(spend.attempts, 1);
    }

    #[tokio::test]
    async fn upstream_failures_keep_their_kind_and_retry_hint() {
        let chat = Scripted::new(vec![Err(UpstreamError::Throttled {
            retry_after: Some(Duration::from_secs(12)),
            detail: "rate limit for org-123".into(),
        })]);
        let (result, _) = run_with(&chat, Duration::from_secs(5)).await;
        assert!(
            matches!(result, Err(ProviderError::Throttled { retry_after_s: 12 })),
            "{result:?}"
        );
        let chat = Scripted::new(vec![Err(UpstreamError::BadAnswer(
            "<html>502 from nginx at 10.0.0.1</html>".into(),
        ))]);
        let (result, _) = run_with(&chat, Duration::from_secs(5)).await;
        let Err(ProviderError::BadOutput(detail)) = result else {
            panic!("expected BadOutput, got {result:?}");
        };
        assert!(!detail.contains("nginx"), "upstream text leaked: {detail}");
    }

    #[tokio::test]
    async fn a_spent_deadline_makes_no_call() {
        let chat = Scripted::new(vec![]);
        let (result, spend) = run_with(&chat, Duration::from_millis(10)).await;
        assert!(matches!(result, Err(ProviderError::Timeout)), "{result:?}");
        assert_eq!((spend.attempts, chat.calls()), (0, 0));
    }
}
