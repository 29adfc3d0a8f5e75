//! Bounds of the API. Each is part of the contract: raising one is backwards compatible, lowering
//! one is a breaking change.

/// Largest request body accepted by any intent route, in bytes (API Gateway allows 10 MB; our
/// engines are sized for Lambda's memory and the 29 s integration timeout, not for that).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// Summarize: document length in characters.
pub const SUMMARIZE_MAX_TEXT_CHARS: u64 = 100_000;
/// Summarize: most sentences that can be requested.
pub const SUMMARIZE_MAX_SENTENCES: u8 = 20;
/// Summarize: default number of sentences.
pub const SUMMARIZE_DEFAULT_SENTENCES: u8 = 3;
/// Focus / query strings, in characters.
pub const MAX_QUERY_CHARS: u64 = 1_000;

/// Classify: message length in characters.
pub const CLASSIFY_MAX_TEXT_CHARS: u64 = 20_000;
/// Classify: fewest and most labels.
pub const CLASSIFY_MIN_LABELS: u64 = 2;
pub const CLASSIFY_MAX_LABELS: u64 = 100;
/// Label names, in characters.
pub const MAX_LABEL_CHARS: u64 = 100;
/// Label and field descriptions, in characters.
pub const MAX_DESCRIPTION_CHARS: u64 = 500;

/// Extract: document length in characters.
pub const EXTRACT_MAX_TEXT_CHARS: u64 = 50_000;
/// Extract: most fields per request.
pub const EXTRACT_MAX_FIELDS: u64 = 50;
/// Extract: field names, in characters.
pub const MAX_FIELD_NAME_CHARS: u64 = 64;
/// Extract: most allowed values of an `enum` field.
pub const EXTRACT_MAX_ENUM_VALUES: u64 = 100;

/// Recommend: candidate items per request.
pub const RECOMMEND_MAX_ITEMS: u64 = 500;
/// Recommend: item and profile text, in characters.
pub const RECOMMEND_MAX_ITEM_CHARS: u64 = 5_000;
/// Recommend: most results.
pub const RECOMMEND_MAX_LIMIT: u64 = 50;
/// Recommend: default number of results.
pub const RECOMMEND_DEFAULT_LIMIT: u64 = 10;
/// Recommend: default diversity (0 = pure relevance, 1 = maximal spread).
pub const RECOMMEND_DEFAULT_DIVERSITY: f64 = 0.3;

/// Score: documents per request.
pub const SCORE_MAX_DOCUMENTS: u64 = 100;
/// Score: document length in characters; longer documents are scored by passages.
pub const SCORE_MAX_DOCUMENT_CHARS: u64 = 20_000;

/// Ids supplied by callers (items, documents): 1–128 characters of `[A-Za-z0-9._:-]`, starting
/// with a letter or digit, so they are safe in logs, URLs and DynamoDB keys.
pub const ID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$";
/// Tags on recommend items.
pub const MAX_TAGS: u64 = 20;
pub const MAX_TAG_CHARS: u64 = 50;

// Background jobs (`POST /v1/jobs`). A job's input is the body of the synchronous route with the
// same rules, except these larger bounds: the work runs in the worker, outside API Gateway's 29 s.

/// Jobs: largest submit body, in bytes. API Gateway accepts 10 MB, but Lambda's synchronous
/// invocation payload (the API Gateway event around the body) is limited to 6 MB.
pub const JOB_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// Jobs: summarize document length, in characters.
pub const JOB_SUMMARIZE_MAX_TEXT_CHARS: u64 = 1_000_000;
/// Jobs: classify message length, in characters.
pub const JOB_CLASSIFY_MAX_TEXT_CHARS: u64 = 200_000;
/// Jobs: extract document length, in characters.
pub const JOB_EXTRACT_MAX_TEXT_CHARS: u64 = 1_000_000;
/// Jobs: recommend candidate items.
pub const JOB_RECOMMEND_MAX_ITEMS: u64 = 5_000;
/// Jobs: score documents (and the largest `top_k`).
pub const JOB_SCORE_MAX_DOCUMENTS: u64 = 5_000;
/// Jobs: `Idempotency-Key` header length, in characters (printable ASCII).
pub const JOB_IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;
/// Jobs: how long a job (its status, result and idempotency key) is kept, in days, by default.
pub const JOB_DEFAULT_TTL_DAYS: u32 = 7;
