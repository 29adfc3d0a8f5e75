//! A local stand-in for API Gateway (REST) in front of Lambda, built from the real function
//! binaries: each function runs as its own process against a Lambda Runtime API emulator, and
//! HTTP requests become API Gateway v1 proxy events exactly as in AWS.
//!
//! # Layout
//! - [`runtime`]: the Lambda Runtime API emulator, one per function (`/next`, `/response`,
//!   `/error`, `/init/error`), with a queue of pending invocations and process supervision.
//! - [`gateway`]: the HTTP front: routing with the shared route table, event construction,
//!   response translation, API Gateway's own limits and errors (10 MB, 29 s, 502 on a crash).

pub mod gateway;
pub mod runtime;
