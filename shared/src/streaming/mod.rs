//! Streamed intents: `POST /v1/summarize/stream` answers with server-sent events from a
//! response-streaming Lambda.
//!
//! Everything that can be rejected before the first byte is an ordinary problem+json response
//! with its status (validation, throttling, a provider unavailable when the call starts). After
//! the first byte, a failure is an `error` event, and every stream ends with exactly one `done`
//! or one `error`: a summary cut short is never presented as done.
//!
//! # Layout
//! - [`events`]: the event payloads (`start`, `delta`, `done`, `error`), documented in OpenAPI.
//! - [`sse`]: the `text/event-stream` encoding.
//! - [`summarize`]: the summary as a sequence of pieces, from a generative model's token stream
//!   (abstractive) or from the extractive summary, one sentence a piece.
//! - [`handler`]: the Lambda function: routing, validation, the event stream with keep-alives
//!   and limits, and the request log item written when the stream ends.

pub mod events;
pub mod handler;
pub mod sse;
pub mod summarize;
