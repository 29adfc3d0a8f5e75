//! `POST /v1/classify`: zero-shot classification of a message into caller-given labels.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::common::{FieldError, Semantic, duplicates, not_blank};
use super::limits::*;

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Label name, 1–100 characters, unique within the request (case-insensitive).
    #[validate(length(min = 1, max = MAX_LABEL_CHARS), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub name: String,
    /// Optional description that says what belongs under the label; improves accuracy.
    #[serde(default)]
    #[validate(length(min = 1, max = MAX_DESCRIPTION_CHARS), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    /// The message, 1–20,000 characters.
    #[validate(
        length(min = 1, max = CLASSIFY_MAX_TEXT_CHARS),
        custom(function = "not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 20000,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub text: String,
    /// 2–100 candidate labels.
    #[validate(length(min = CLASSIFY_MIN_LABELS, max = CLASSIFY_MAX_LABELS), nested)]
    #[schema(min_items = 2, max_items = 100)]
    pub labels: Vec<Label>,
    /// When true, every label whose score reaches `threshold` is selected; scores are then
    /// independent per label instead of summing to 1.
    #[serde(default)]
    #[schema(default = false)]
    pub multi_label: bool,
    /// Minimum score for a label to be chosen, in [0, 1]. Below it the classifier abstains
    /// (`label: null`). Defaults to a calibrated value per provider.
    #[serde(default)]
    #[validate(range(min = 0.0, max = 1.0))]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub threshold: Option<f64>,
}

impl Semantic for ClassifyRequest {
    fn semantic_errors(&self) -> Vec<FieldError> {
        duplicates(
            self.labels.iter().map(|l| l.name.as_str()),
            |i| format!("/labels/{i}/name"),
            "label",
            true,
        )
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelScore {
    pub name: String,
    /// Score in [0, 1].
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub score: f32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyResponse {
    /// The best label, or `null` when no label reaches the threshold (abstention).
    #[schema(required = true)]
    pub label: Option<String>,
    /// Every caller label with its score, highest first.
    pub labels: Vec<LabelScore>,
    /// Labels whose score reaches the threshold, highest first (at most one unless
    /// `multi_label`).
    pub selected: Vec<String>,
    /// The threshold that was applied.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub threshold: f32,
}
