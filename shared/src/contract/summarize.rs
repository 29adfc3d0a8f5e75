//! `POST /v1/summarize`: extractive summary of a document, optionally focused on a query.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::common::{FieldError, Semantic, Span, not_blank};
use super::limits::*;

fn default_max_sentences() -> u8 {
    SUMMARIZE_DEFAULT_SENTENCES
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummarizeRequest {
    /// The document, 1–100,000 characters.
    #[validate(
        length(min = 1, max = SUMMARIZE_MAX_TEXT_CHARS),
        custom(function = "not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 100000,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub text: String,
    /// Most sentences in the summary, 1–20 (default 3). Fewer are returned when the document
    /// is shorter.
    #[serde(
        default = "default_max_sentences",
        deserialize_with = "super::common::whole::deserialize"
    )]
    #[validate(range(min = 1, max = SUMMARIZE_MAX_SENTENCES))]
    #[schema(minimum = 1, maximum = 20, default = 3)]
    pub max_sentences: u8,
    /// Optional query: sentences about it are preferred. 1–1,000 characters.
    #[serde(default)]
    #[validate(length(min = 1, max = MAX_QUERY_CHARS), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub focus: Option<String>,
    /// `extractive` (default): whole sentences of the input, verbatim. `abstractive`: a summary
    /// in the model's own words; needs a generative provider (422 on the embedded one).
    #[serde(default)]
    pub style: SummaryStyle,
}

/// How a summary is written.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SummaryStyle {
    /// Sentences of the document, verbatim and in order.
    #[default]
    Extractive,
    /// Free text written by a generative model, at most `max_sentences` sentences long.
    Abstractive,
}

impl Semantic for SummarizeRequest {
    fn semantic_errors(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

/// A sentence chosen for the summary.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummarySentence {
    /// The sentence exactly as it appears in the input.
    pub text: String,
    /// Position of the sentence in the document (0-based).
    pub index: u64,
    /// Where the sentence is in the input, in code points.
    pub span: Span,
    /// Salience in [0, 1] (relative to the other sentences of this document).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub score: f32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummarizeResponse {
    /// Extractive: the chosen sentences joined by a space, in document order. Abstractive: the
    /// model's summary.
    pub summary: String,
    /// The style the summary was written in.
    pub style: SummaryStyle,
    /// Extractive: the chosen sentences in document order. Abstractive: the input sentences the
    /// model cites as the summary's sources, in document order (possibly none).
    pub sentences: Vec<SummarySentence>,
    /// Number of sentences found in the input.
    pub input_sentences: u64,
}
