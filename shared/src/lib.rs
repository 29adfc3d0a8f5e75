//! Everything the intent functions share: the public contract, validation, the HTTP boundary,
//! the intent logic, the providers that answer it, and observability.
//!
//! Every function binary in `functions/` is a few lines that pick one [`routes::Route`] and hand it
//! to [`http::run`]; all behaviour lives here so that each concern is written once.
//!
//! # Layout
//! - [`contract`]: request and response types of every route, with their validation rules and the
//!   bounds that API users rely on. The only types that cross the HTTP boundary.
//! - [`problem`]: the one error type of the HTTP boundary and its RFC 9457 `problem+json` form.
//! - [`http`]: `lambda_http` glue: routing (stage-independent), content negotiation, body limits,
//!   JSON parsing with JSON-pointer errors, validation, panic containment, response envelopes.
//! - [`routes`]: the API's route table, the single source for routing, the local API and docs.
//! - [`intents`]: the product logic of each intent, provider-agnostic. It also checks what a
//!   provider returns against the contract, because provider output is untrusted.
//! - [`provider`]: the `Provider` port and its implementations (`embedded` is the default).
//! - [`engine`]: the classic IR/NLP engine (sentences, BM25, TextRank/MMR, typed extractors).
//! - [`embed`]: the sentence-embedding port and all-MiniLM-L6-v2 running in-process on candle.
//! - [`jobs`]: background jobs: submit and status, the jobs table, the queue, payloads in S3,
//!   and the worker that runs them.
//! - [`store`]: the request log and feedback stores (DynamoDB, and in-memory for tests).
//! - [`streaming`]: the streamed summary (`text/event-stream` from a response-streaming Lambda).
//! - [`after_response`]: the internal Lambda extension that finishes request-log writes after the
//!   response is sent and before the environment is frozen.
//! - [`observability`]: JSON logs and the one summary line per request.
//! - [`request_end`]: the end of every request: summary line, metric line, request log item.
//! - [`metrics`]: one CloudWatch embedded-metric line per request (namespace `IntentApi`).
//! - [`caller`]: who called (API key id, a token's subject and client id), from the request
//!   context, as every stored item records it.
//! - [`tracing_export`]: the request's spans as X-Ray subsegments, annotated with the request id.
//! - [`config`]: typed configuration read once per cold start from the environment.
//! - [`openapi`]: the OpenAPI document generated from the contract, and the docs page.

pub mod after_response;
pub mod caller;
pub mod config;
pub mod contract;
pub mod embed;
pub mod engine;
pub mod http;
pub mod https_connector;
pub mod intents;
pub mod jobs;
pub mod log_filter;
pub mod metrics;
pub mod observability;
pub mod openapi;
pub mod problem;
pub mod provider;
pub mod request_end;
pub mod routes;
pub mod store;
pub mod streaming;
pub mod tracing_export;
