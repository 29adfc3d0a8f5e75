//! `POST /v1/summarize`: extractive summary of a document, optionally focused on a query.

use serde::{Deserialize, Serialize};
use validator::Validate;

use super::common::{FieldError, Semantic, Span, not_blank};
use super::limits::*;

fn default_max_sentences() -> u8 {
    SUMMARIZE_DEFAULT_SENTENCES
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SummarizeRequest {
    /// The document, 1–100,000 characters.
    #[validate(
        length(min = 1, max = SUMMARIZE_MAX_TEXT_CHARS),
        custom(function = "not_blank")
    )]
    pub text: String,
    /// Most sentences in the summary, 1–20 (default 3). Fewer are returned when the document
    /// is shorter.
    #[serde(default = "default_max_sentences")]
    #[validate(range(min = 1, max = SUMMARIZE_MAX_SENTENCES))]
    pub max_sentences: u8,
    /// Optional query: sentences about it are preferred. 1–1,000 characters.
    #[serde(default)]
    #[validate(length(min = 1, max = MAX_QUERY_CHARS), custom(function = "not_blank"))]
    pub focus: Option<String>,
}

impl Semantic for SummarizeRequest {
    fn semantic_errors(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

/// A sentence chosen for the summary.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SummarySentence {
    /// The sentence exactly as it appears in the input.
    pub text: String,
    /// Position of the sentence in the document (0-based).
    pub index: u64,
    /// Where the sentence is in the input, in code points.
    pub span: Span,
    /// Salience in [0, 1] (relative to the other sentences of this document).
    pub score: f32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SummarizeResponse {
    /// The chosen sentences joined by a space, in document order.
    pub summary: String,
    /// The chosen sentences in document order.
    pub sentences: Vec<SummarySentence>,
    /// Number of sentences found in the input.
    pub input_sentences: u64,
}
