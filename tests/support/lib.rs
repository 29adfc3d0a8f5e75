//! Helpers shared by the test binaries.
//!
//! # Layout
//! - this file: locating the workspace and its fixtures.
//! - [`dynamodb`]: DynamoDB Local started per test binary, with the template's tables.
//! - [`api`]: the local API (real function binaries behind the Runtime API emulator) as a child
//!   process, and a small HTTP client for it.
//! - [`event`]: API Gateway REST event builders for inputs no fixture holds.
//! - [`moto`]: moto as the local SQS and S3 of background jobs, with the template's queues.
//! - [`fault_proxy`]: an HTTP proxy in front of DynamoDB Local that injects throttling, 500s,
//!   delays and lost responses.
//! - [`token_upstream`]: an OpenAI-compatible server that writes its answer token by token.

pub mod api;
pub mod dynamodb;
pub mod fault_proxy;
pub mod moto;
pub mod token_upstream;

/// API Gateway event builders, shared with the handler suite (which owns the file).
#[path = "../handlers/event.rs"]
pub mod event;
pub use event::rest_event;

use std::path::PathBuf;

/// The workspace root (the folder holding `template.yaml` and `events/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The target directory the binaries were built into: `CARGO_TARGET_DIR` when set (cargo passes
/// it on to tests), else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// A free loopback port (bound then released; good enough for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
