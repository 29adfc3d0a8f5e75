//! A local stand-in for API Gateway (REST) in front of Lambda, built from the real function
//! binaries: each function runs as its own process against a Lambda Runtime API emulator, and
//! HTTP requests become API Gateway v1 proxy events exactly as in AWS.
//!
//! # Layout
//! - [`runtime`]: the Lambda Runtime API emulator, one per function (`/next`, `/response`,
//!   `/error`, `/init/error`, and the Extensions API's `register` and `event/next` that the
//!   functions' request-log extension uses), with a queue of pending invocations and process
//!   supervision.
//! - [`gateway`]: the HTTP front: routing with the shared route table, event construction,
//!   response translation, API Gateway's own limits and errors (10 MB, 29 s, 502 on a crash).
//! - [`auth`]: API Gateway's API key and bearer-token (OIDC authorizer) checks, opt-in by
//!   environment.
//! - [`gateway_responses`]: the gateway's own error responses, read from `template.yaml`.
//! - [`sqs`]: the SQS event source mapping of the job worker (batches, partial batch failures;
//!   the queue server does visibility timeouts and the redrive to the dead-letter queue).
//! - [`stream`]: a streamed response between the emulator and the gateway (bounded, chunk by
//!   chunk, with an explicit complete / failed / abandoned end).
//! - [`streamed`]: API Gateway's handling of a streamed response: the metadata prelude, the
//!   chunked body and the streaming limits (15 min in all, 5 min idle).

pub mod auth;
pub mod gateway;
pub mod gateway_responses;
pub mod runtime;
pub mod sqs;
pub mod stream;
pub mod streamed;

/// The fixed environment variables `template.yaml`'s `Globals` give every function; the local API
/// sets the same (the contract tests check that the two agree).
pub const TEMPLATE_GLOBALS: [(&str, &str); 3] = [
    ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true"),
    ("MALLOC_MMAP_THRESHOLD_", "33554432"),
    ("MALLOC_TRIM_THRESHOLD_", "1073741824"),
];

/// [`TEMPLATE_GLOBALS`] as owned pairs, ready to add to a function's environment.
pub fn template_globals() -> impl Iterator<Item = (String, String)> {
    TEMPLATE_GLOBALS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
}
