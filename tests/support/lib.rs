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

/// Whether process `pid` holds a socket listening on TCP `port` (Linux: `/proc/net/tcp{,6}` name
/// the listening socket's inode, `/proc/<pid>/fd` the process's sockets). A server started on a
/// port from [`free_port`] may lose it to another test's server; a connect that succeeds then
/// reaches the other server, and only this tells the two apart. `None` where there is no `/proc`.
pub fn listens_on(pid: u32, port: u16) -> Option<bool> {
    const LISTEN: &str = "0A";
    let wanted = format!("{port:04X}");
    if !std::path::Path::new("/proc/net/tcp").exists() {
        return None;
    }
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state == LISTEN && local.rsplit(':').next() == Some(wanted.as_str()) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Some(false);
    };
    Some(
        fds.filter_map(Result::ok)
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .any(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str())),
    )
}

/// The port of the first `http://127.0.0.1:<port>` in `line`: how a server started on port 0
/// (moto, local-api) says where it listens.
pub fn announced_port(line: &str) -> Option<u16> {
    let rest = line.split("http://127.0.0.1:").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A free loopback port (bound then released; good enough for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
