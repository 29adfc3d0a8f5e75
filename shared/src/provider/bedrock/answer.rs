//! A Converse answer → the port's [`ModelAnswer`]: which content block holds the answer, what the
//! stop reason means, and the token accounting. Pure functions; nothing here interprets the answer.

use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types::{self as wire, ContentBlock};
use serde_json::Value;

use super::BedrockOutput;
use super::document::{Node, NonFiniteNumber, Num, document_to_json};
use crate::provider::generative::{
    AnswerContent, ModelAnswer, RefusalKind, StopReason, TokenUsage, UpstreamError,
};

/// The whole answer. `model_id` is the configured model, reported unless a prompt router says
/// which model it invoked.
pub(super) fn model_answer(
    output: &ConverseOutput,
    mode: BedrockOutput,
    model_id: &str,
) -> Result<ModelAnswer, UpstreamError> {
    let blocks = output
        .output()
        .and_then(|o| o.as_message().ok())
        .map_or(&[][..], |m| m.content());
    let content = answer_content(blocks, mode).map_err(|e| {
        UpstreamError::BadAnswer(format!("the tool input cannot be read as JSON: {e}"))
    })?;
    let invoked = output
        .trace()
        .and_then(|t| t.prompt_router())
        .and_then(|r| r.invoked_model_id());
    Ok(ModelAnswer {
        content,
        // `as_str` keeps values this SDK does not know yet (they arrive as `Unknown`).
        stop: stop_reason(output.stop_reason().as_str()),
        usage: token_usage(output.usage()),
        model: Some(invoked.unwrap_or(model_id).to_owned()),
    })
}

/// The answer's content. Tool mode: the first tool call's input (models often write a sentence
/// before the call; it is not the answer), else the text, which the decoder will try to parse.
/// JSON-schema mode: the text blocks, joined (the SDK may split one answer over several).
pub(super) fn answer_content(
    blocks: &[ContentBlock],
    mode: BedrockOutput,
) -> Result<AnswerContent, NonFiniteNumber> {
    if mode == BedrockOutput::Tool
        && let Some(tool_use) = blocks.iter().find_map(|b| b.as_tool_use().ok())
    {
        return tool_input_to_json(tool_use).map(AnswerContent::Json);
    }
    let text: String = blocks
        .iter()
        .filter_map(|b| b.as_text().ok())
        .map(String::as_str)
        .collect();
    Ok(if text.trim().is_empty() {
        AnswerContent::Empty
    } else {
        AnswerContent::Text(text)
    })
}

/// A tool call's input as JSON. The closure is where the document's type is known, so it is the
/// one place that reads a node (see [`super::document`]).
pub(super) fn tool_input_to_json(tool_use: &wire::ToolUseBlock) -> Result<Value, NonFiniteNumber> {
    document_to_json(tool_use.input(), &|doc| {
        if let Some(map) = doc.as_object() {
            Node::Object(map)
        } else if let Some(items) = doc.as_array() {
            Node::Array(items)
        } else if let Some(s) = doc.as_string() {
            Node::String(s)
        } else if let Some(b) = doc.as_bool() {
            Node::Bool(b)
        } else if let Some(&n) = doc.as_number() {
            Node::Number(if let Ok(u) = u64::try_from(n) {
                Num::PosInt(u)
            } else if let Ok(i) = i64::try_from(n) {
                Num::NegInt(i)
            } else {
                Num::Float(n.to_f64_lossy())
            })
        } else {
            Node::Null
        }
    })
}

/// Converse's stop reason, normalised.
pub(super) fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" | "tool_use" | "stop_sequence" => StopReason::Complete,
        "max_tokens" => StopReason::MaxTokens,
        "guardrail_intervened" => StopReason::Refused(RefusalKind::Guardrail),
        "content_filtered" => StopReason::Refused(RefusalKind::ContentFilter),
        other => StopReason::Other(other.to_owned()),
    }
}

/// Converse's usage; an answer without usage counts as zero tokens (never seen, but not a reason
/// to throw the answer away).
pub(super) fn token_usage(usage: Option<&wire::TokenUsage>) -> TokenUsage {
    // The wire type is i32; a negative count would be an upstream bug and counts as zero.
    fn count(n: i32) -> u64 {
        u64::try_from(n).unwrap_or(0)
    }
    usage.map_or_else(TokenUsage::default, |u| TokenUsage {
        input: count(u.input_tokens()),
        output: count(u.output_tokens()),
        cache_read: u.cache_read_input_tokens().map(count),
        cache_write: u.cache_write_input_tokens().map(count),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::provider::bedrock::document::json_to_document;

    fn tool_use(input: Value) -> ContentBlock {
        ContentBlock::ToolUse(
            wire::ToolUseBlock::builder()
                .tool_use_id("t1")
                .name("classification")
                .input(json_to_document(&input))
                .build()
                .expect("tool use block"),
        )
    }

    fn text(s: &str) -> ContentBlock {
        ContentBlock::Text(s.to_owned())
    }

    #[test]
    fn tool_mode_takes_the_first_tool_call_not_the_text_before_it() {
        let blocks = [
            text("I will call the tool."),
            tool_use(json!({"n": 1})),
            tool_use(json!({"n": 2})),
        ];
        assert_eq!(
            answer_content(&blocks, BedrockOutput::Tool),
            Ok(AnswerContent::Json(json!({"n": 1})))
        );
    }

    #[test]
    fn tool_mode_falls_back_to_the_text_when_the_model_did_not_call_the_tool() {
        let blocks = [text("{\"n\": "), text("1}")];
        assert_eq!(
            answer_content(&blocks, BedrockOutput::Tool),
            Ok(AnswerContent::Text("{\"n\": 1}".to_owned()))
        );
    }

    #[test]
    fn json_schema_mode_reads_text_only() {
        let blocks = [tool_use(json!({"n": 1})), text("{\"n\": 2}")];
        assert_eq!(
            answer_content(&blocks, BedrockOutput::JsonSchema),
            Ok(AnswerContent::Text("{\"n\": 2}".to_owned()))
        );
    }

    #[test]
    fn no_content_or_blank_text_is_empty() {
        for mode in [BedrockOutput::Tool, BedrockOutput::JsonSchema] {
            assert_eq!(answer_content(&[], mode), Ok(AnswerContent::Empty));
            assert_eq!(
                answer_content(&[text(" \n ")], mode),
                Ok(AnswerContent::Empty)
            );
        }
    }

    #[test]
    fn stop_reasons_map_to_the_port_including_unknown_ones() {
        let cases = [
            ("end_turn", StopReason::Complete),
            ("tool_use", StopReason::Complete),
            ("stop_sequence", StopReason::Complete),
            ("max_tokens", StopReason::MaxTokens),
            (
                "guardrail_intervened",
                StopReason::Refused(RefusalKind::Guardrail),
            ),
            (
                "content_filtered",
                StopReason::Refused(RefusalKind::ContentFilter),
            ),
            (
                "malformed_tool_use",
                StopReason::Other("malformed_tool_use".to_owned()),
            ),
            (
                "model_context_window_exceeded",
                StopReason::Other("model_context_window_exceeded".to_owned()),
            ),
        ];
        for (reason, expected) in cases {
            assert_eq!(stop_reason(reason), expected, "{reason}");
        }
        // A value newer than the SDK is its `Unknown` variant; `as_str` still gives the text.
        let newer = wire::StopReason::from("reason_from_the_future");
        assert_eq!(
            stop_reason(newer.as_str()),
            StopReason::Other("reason_from_the_future".to_owned())
        );
    }

    #[test]
    fn usage_counts_cache_tokens_and_clamps_negative_counts_to_zero() {
        let usage = wire::TokenUsage::builder()
            .input_tokens(-3)
            .output_tokens(12)
            .total_tokens(9)
            .cache_read_input_tokens(100)
            .cache_write_input_tokens(-1)
            .build()
            .expect("usage");
        assert_eq!(
            token_usage(Some(&usage)),
            TokenUsage {
                input: 0,
                output: 12,
                cache_read: Some(100),
                cache_write: Some(0)
            }
        );
    }

    #[test]
    fn missing_usage_counts_zero_and_no_cache() {
        assert_eq!(token_usage(None), TokenUsage::default());
        let usage = wire::TokenUsage::builder()
            .input_tokens(5)
            .output_tokens(6)
            .total_tokens(11)
            .build()
            .expect("usage");
        assert_eq!(
            token_usage(Some(&usage)),
            TokenUsage {
                input: 5,
                output: 6,
                cache_read: None,
                cache_write: None
            }
        );
    }
}
