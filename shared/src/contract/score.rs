//! `POST /v1/score`: relevance scoring and reranking of documents for a query.

use serde::{Deserialize, Serialize};
use validator::Validate;

use super::common::{FieldError, Semantic, duplicates, not_blank, valid_id};
use super::limits::*;

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Unique id (see the id format).
    #[validate(custom(function = "valid_id"))]
    pub id: String,
    /// The document, 1–20,000 characters. Long documents are scored by their best passage.
    #[validate(
        length(min = 1, max = SCORE_MAX_DOCUMENT_CHARS),
        custom(function = "not_blank")
    )]
    pub text: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// The query, 1–1,000 characters.
    #[validate(length(min = 1, max = MAX_QUERY_CHARS), custom(function = "not_blank"))]
    pub query: String,
    /// 1–100 documents with unique ids.
    #[validate(length(min = 1, max = SCORE_MAX_DOCUMENTS), nested)]
    pub documents: Vec<Document>,
    /// Return only the best `top_k` (1–100); all documents by default.
    #[serde(default)]
    #[validate(range(min = 1, max = SCORE_MAX_DOCUMENTS))]
    pub top_k: Option<u64>,
}

impl Semantic for ScoreRequest {
    fn semantic_errors(&self) -> Vec<FieldError> {
        duplicates(
            self.documents.iter().map(|d| d.id.as_str()),
            |i| format!("/documents/{i}/id"),
            "document id",
            false,
        )
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScoredDocument {
    pub id: String,
    /// Position of the document in the request.
    pub index: u64,
    /// Relevance in [0, 1], comparable within one response.
    pub score: f32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScoreResponse {
    /// Documents, most relevant first.
    pub results: Vec<ScoredDocument>,
}
