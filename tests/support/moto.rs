//! moto (installed by `scripts/setup.sh`) as the local SQS and S3 for background jobs: one
//! server per test on a port of its own, with the job queues and bucket of `template.yaml`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{announced_port, workspace_root};

pub struct Moto {
    pub url: String,
    /// What points the functions at the queues and bucket (`JOB_QUEUE_URL`, `JOB_DLQ_ARN`...),
    /// plus the SQS and S3 endpoint overrides.
    pub env: Vec<(String, String)>,
    _child: Child,
}

impl Moto {
    /// Starts moto and creates the queues and bucket; `visibility_s` is the queues' visibility
    /// timeout (and, less one second, the worker's lease).
    pub async fn start(visibility_s: u32) -> anyhow::Result<Moto> {
        let server = workspace_root().join(".tools/venv-moto/bin/moto_server");
        // Port 0: the server binds a port the system picks and says which. A port chosen here
        // and handed over would be free only when chosen: two tests starting moto at once could
        // be handed the same one, the second server would fail to bind, and its test would
        // create its queues on the other test's server.
        let mut child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} (run scripts/setup.sh)", server.display()))?;
        let stderr = child.stderr.take().context("moto stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let announced = async {
            while let Some(line) = lines.next_line().await? {
                if line.contains("Running on http://127.0.0.1:") {
                    return announced_port(&line)
                        .with_context(|| format!("moto announced no port: {line:?}"));
                }
            }
            bail!("moto exited before it was listening")
        };
        let port = tokio::time::timeout(Duration::from_secs(60), announced)
            .await
            .context("moto did not say where it listens within 60 s")??;
        // Keep draining stderr (one line per request) so the pipe never fills and blocks moto.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!("moto did not listen on {url} within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let out = Command::new(workspace_root().join(".tools/venv/bin/python"))
            .arg(workspace_root().join("scripts/local_jobs.py"))
            .arg(workspace_root().join("template.yaml"))
            .arg(&url)
            .env("LOCAL_JOB_VISIBILITY_SECONDS", visibility_s.to_string())
            .output()
            .await
            .context("running scripts/local_jobs.py")?;
        if !out.status.success() {
            bail!(
                "creating the job queues failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut env: Vec<(String, String)> = String::from_utf8(out.stdout)?
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        env.push(("AWS_ENDPOINT_URL_SQS".into(), url.clone()));
        env.push(("AWS_ENDPOINT_URL_S3".into(), url.clone()));
        Ok(Moto {
            url,
            env,
            _child: child,
        })
    }

    /// The value of one of [`Moto::env`].
    pub fn var(&self, name: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}
