//! A [`StructuredCall`] → the parts of one Converse request: system prompt, turns, inference
//! settings, and the structured-output mechanism (a forced tool, or native JSON-schema output).
//! A [`TextCall`] → the parts of one ConverseStream request: the same prompt and settings, plain
//! text out.

use aws_sdk_bedrockruntime::error::BuildError;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, GuardrailConfiguration, GuardrailStreamConfiguration,
    GuardrailStreamProcessingMode, GuardrailTrace, InferenceConfiguration, JsonSchemaDefinition,
    Message, OutputConfig, OutputFormat, OutputFormatStructure, OutputFormatType,
    SpecificToolChoice, SystemContentBlock, Tool, ToolChoice, ToolConfiguration, ToolInputSchema,
    ToolSpecification,
};

use super::document::json_to_document;
use super::{BedrockOutput, Guardrail};
use crate::provider::generative::{OutputSchema, StructuredCall, TextCall};

/// Everything a Converse request carries besides the model id.
#[derive(Debug)]
pub(super) struct ConverseRequest {
    pub system: Vec<SystemContentBlock>,
    pub messages: Vec<Message>,
    pub inference: InferenceConfiguration,
    /// Tool mode only.
    pub tools: Option<ToolConfiguration>,
    /// JSON-schema mode only.
    pub output: Option<OutputConfig>,
    pub guardrail: Option<GuardrailConfiguration>,
}

/// Stands in for an empty rejected answer: Converse refuses empty text blocks.
const NO_ANSWER: &str = "(no answer)";

pub(super) fn converse_request(
    call: &StructuredCall<'_>,
    mode: BedrockOutput,
    guardrail: Option<&Guardrail>,
) -> Result<ConverseRequest, BuildError> {
    let mut messages = vec![text_message(ConversationRole::User, call.user)?];
    if let Some(repair) = call.repair {
        // The rejected answer goes back as the assistant's text (in tool mode too: replaying it
        // as a tool call would need a tool result turn and buys nothing), then what was wrong.
        let previous = if repair.previous_answer.trim().is_empty() {
            NO_ANSWER
        } else {
            repair.previous_answer
        };
        let how = match mode {
            BedrockOutput::Tool => {
                "by calling the tool once with input that follows its schema exactly"
            }
            BedrockOutput::JsonSchema => "with one JSON document that follows the schema exactly",
        };
        messages.push(text_message(ConversationRole::Assistant, previous)?);
        messages.push(text_message(
            ConversationRole::User,
            &format!(
                "Your previous answer was rejected:\n{}\nAnswer again {how}.",
                repair.errors
            ),
        )?);
    }

    let (tools, output) = match mode {
        BedrockOutput::Tool => (Some(forced_tool(call.schema)?), None),
        BedrockOutput::JsonSchema => (None, Some(json_schema_output(call.schema)?)),
    };

    Ok(ConverseRequest {
        system: system(call.system),
        messages,
        inference: inference(call.max_tokens),
        tools,
        output,
        guardrail: guardrail.map(|g| {
            GuardrailConfiguration::builder()
                .guardrail_identifier(&g.identifier)
                .guardrail_version(&g.version)
                .trace(GuardrailTrace::Disabled)
                .build()
        }),
    })
}

/// Everything a ConverseStream request carries besides the model id: no tool and no output
/// format, the answer is plain text.
#[derive(Debug)]
pub(super) struct ConverseStreamRequest {
    pub system: Vec<SystemContentBlock>,
    pub messages: Vec<Message>,
    pub inference: InferenceConfiguration,
    pub guardrail: Option<GuardrailStreamConfiguration>,
}

pub(super) fn converse_stream_request(
    call: &TextCall<'_>,
    guardrail: Option<&Guardrail>,
) -> Result<ConverseStreamRequest, BuildError> {
    Ok(ConverseStreamRequest {
        system: system(call.system),
        messages: vec![text_message(ConversationRole::User, call.user)?],
        inference: inference(call.max_tokens),
        guardrail: guardrail.map(|g| {
            GuardrailStreamConfiguration::builder()
                .guardrail_identifier(&g.identifier)
                .guardrail_version(&g.version)
                .trace(GuardrailTrace::Disabled)
                // The guardrail checks each piece before it is released, so no unchecked text
                // reaches the stream (asynchronous mode would send text first and check it after).
                .stream_processing_mode(GuardrailStreamProcessingMode::Sync)
                .build()
        }),
    })
}

fn system(prompt: &str) -> Vec<SystemContentBlock> {
    vec![SystemContentBlock::Text(prompt.to_owned())]
}

fn inference(max_tokens: u32) -> InferenceConfiguration {
    InferenceConfiguration::builder()
        .max_tokens(i32::try_from(max_tokens).unwrap_or(i32::MAX))
        // Extraction, classification and summaries, not creative writing: the most likely answer
        // every time.
        .temperature(0.0)
        .build()
}

fn text_message(role: ConversationRole, text: &str) -> Result<Message, BuildError> {
    Message::builder()
        .role(role)
        .content(ContentBlock::Text(text.to_owned()))
        .build()
}

/// Structured output by forced tool use: one tool whose input schema is the answer's schema, and
/// a tool choice that leaves the model no other move.
fn forced_tool(schema: &OutputSchema) -> Result<ToolConfiguration, BuildError> {
    let spec = ToolSpecification::builder()
        .name(schema.name)
        .description(schema.description)
        .input_schema(ToolInputSchema::Json(json_to_document(&schema.schema)))
        .build()?;
    ToolConfiguration::builder()
        .tools(Tool::ToolSpec(spec))
        .tool_choice(ToolChoice::Tool(
            SpecificToolChoice::builder().name(schema.name).build()?,
        ))
        .build()
}

/// Native JSON-schema output. The schema travels as a string; it is serialised from a fixed value,
/// so the text (which the upstream compiles into a grammar on first use) is the same every call.
fn json_schema_output(schema: &OutputSchema) -> Result<OutputConfig, BuildError> {
    let definition = JsonSchemaDefinition::builder()
        .schema(schema.schema.to_string())
        .name(schema.name)
        .description(schema.description)
        .build()?;
    Ok(OutputConfig::builder()
        .text_format(
            OutputFormat::builder()
                .r#type(OutputFormatType::JsonSchema)
                .structure(OutputFormatStructure::JsonSchema(definition))
                .build()?,
        )
        .build())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::provider::Deadline;
    use crate::provider::generative::Repair;

    fn schema() -> OutputSchema {
        OutputSchema {
            name: "answer",
            description: "The answer.",
            schema: json!({"type": "object"}),
        }
    }

    fn call<'a>(schema: &'a OutputSchema, repair: Option<Repair<'a>>) -> StructuredCall<'a> {
        StructuredCall {
            intent: "classify",
            system: "system",
            user: "user",
            repair,
            schema,
            max_tokens: u32::MAX,
            deadline: Deadline::after(std::time::Duration::from_secs(1)),
        }
    }

    fn texts(message: &Message) -> Vec<&str> {
        message
            .content()
            .iter()
            .filter_map(|b| b.as_text().ok().map(String::as_str))
            .collect()
    }

    #[test]
    fn each_mode_sends_exactly_one_structured_output_mechanism() {
        let schema = schema();
        let tool = converse_request(&call(&schema, None), BedrockOutput::Tool, None).expect("tool");
        assert!(tool.tools.is_some() && tool.output.is_none());
        let native = converse_request(&call(&schema, None), BedrockOutput::JsonSchema, None)
            .expect("json schema");
        assert!(native.tools.is_none() && native.output.is_some());
    }

    #[test]
    fn max_tokens_beyond_the_wire_type_saturates() {
        let schema = schema();
        let request =
            converse_request(&call(&schema, None), BedrockOutput::Tool, None).expect("request");
        assert_eq!(request.inference.max_tokens(), Some(i32::MAX));
    }

    #[test]
    fn an_empty_rejected_answer_is_replayed_as_a_placeholder() {
        // Converse rejects an empty text block with a ValidationException.
        let schema = schema();
        let repair = Repair {
            previous_answer: "  ",
            errors: "no answer",
        };
        let request = converse_request(&call(&schema, Some(repair)), BedrockOutput::Tool, None)
            .expect("request");
        assert_eq!(request.messages.len(), 3);
        assert_eq!(request.messages[1].role(), &ConversationRole::Assistant);
        assert_eq!(texts(&request.messages[1]), [NO_ANSWER]);
    }
}
