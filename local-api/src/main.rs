//! `local-api`: serves every route of the API on 127.0.0.1 as API Gateway would, in front of the
//! real function binaries.
//!
//! Usage: `local-api [--port 3000] [--bin-dir target/debug] [--stage Prod]`
//! (`--port 0` takes any free port; the ready line, `local API listening on ...`, says which).
//!
//! Function processes get a Lambda-like environment: the `AWS_*` (except `AWS_LAMBDA_*`),
//! `RUST_LOG`, `MODEL_DIR`, `EMBEDDING_CACHE_MB`, `INTENT_PROVIDER`, provider settings (`BEDROCK_*`, `OPENAI_*`,
//! `PROVIDER_*`, `MAX_INPUT_TOKENS`) and `*_TABLE` variables of this process, plus what
//! `template.yaml` sets for every function.
//!
//! Auth is off unless asked for: `LOCAL_API_KEY` requires that `x-api-key`, `AUTH_MODE=oidc`
//! puts the OIDC authorizer (configured by `OIDC_ISSUER`, `OIDC_AUDIENCE`, `OIDC_JWKS_URL`) in
//! front of the protected routes (see `local_api::auth`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use local_api::gateway::Gateway;
use local_api::runtime::FunctionHost;
use shared::routes::Function;
use tokio::net::TcpListener;

struct Args {
    port: u16,
    bin_dir: PathBuf,
    stage: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        port: 3000,
        bin_dir: std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("target/debug")),
        stage: "Prod".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => args.port = value()?.parse().context("--port must be a port number")?,
            "--bin-dir" => args.bin_dir = PathBuf::from(value()?),
            "--stage" => args.stage = value()?,
            "-h" | "--help" => {
                println!("usage: local-api [--port 3000] [--bin-dir DIR] [--stage Prod]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (see --help)"),
        }
    }
    Ok(args)
}

fn function_env() -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            (k.starts_with("AWS_") && !k.starts_with("AWS_LAMBDA_"))
                || k.starts_with("RUST_")
                || k == "MODEL_DIR"
                || k == "EMBEDDING_CACHE_MB"
                || k == "INTENT_PROVIDER"
                // The generative provider's settings (BEDROCK_*, OPENAI_*, PROVIDER_*), so any
                // provider can be served locally.
                || k.starts_with("BEDROCK_")
                || k.starts_with("OPENAI_")
                || k.starts_with("PROVIDER_")
                || k == "MAX_INPUT_TOKENS"
                || k.ends_with("_TABLE")
                // Background jobs: JOB_QUEUE_URL, JOB_BUCKET, JOB_TTL_DAYS, JOB_LEASE_SECONDS...
                || k.starts_with("JOB_")
                // The OIDC authorizer's issuer, audience and key set URL.
                || k.starts_with("OIDC_")
                || k == "PATH"
                || k == "HOME"
        })
        .collect();
    // What template.yaml's Globals set for every function (a test keeps the two in step).
    env.extend(local_api::template_globals());
    env
}

/// The worker's two event sources, as `template.yaml` declares them: the job queue (batches of
/// 5, one poller per worker process) and the dead-letter queue (batches of 10). `JOB_QUEUE_URL`,
/// `JOB_QUEUE_ARN`, `JOB_DLQ_URL` and `JOB_DLQ_ARN` name them (`scripts/stack.sh` sets them).
async fn start_job_event_sources(workers: Vec<Arc<FunctionHost>>) -> anyhow::Result<()> {
    let var = |name: &str| {
        std::env::var(name).with_context(|| format!("{name} is required with JOB_QUEUE_URL"))
    };
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let client = local_api::sqs::client().await;
    let mut sources: Vec<(String, String, i32, Arc<FunctionHost>)> = workers
        .iter()
        .map(|w| Ok((var("JOB_QUEUE_URL")?, var("JOB_QUEUE_ARN")?, 5, w.clone())))
        .collect::<anyhow::Result<_>>()?;
    if let Some(first) = workers.first() {
        sources.push((var("JOB_DLQ_URL")?, var("JOB_DLQ_ARN")?, 10, first.clone()));
    }
    for (url, arn, batch_size, worker) in sources {
        let source = local_api::sqs::EventSource {
            queue_url: url,
            queue_arn: arn,
            batch_size,
            region: region.clone(),
        };
        tokio::spawn(source.run(client.clone(), worker));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let env = function_env();
    let mut functions = HashMap::new();
    // The jobs functions need a queue and a bucket (an SQS/S3-compatible server); without
    // JOB_QUEUE_URL they are not started and the jobs routes answer 500.
    let jobs_configured = std::env::var_os("JOB_QUEUE_URL").is_some();
    if !jobs_configured {
        eprintln!(
            "JOB_QUEUE_URL is not set: /v1/jobs is not served (the jobs functions need a queue)"
        );
    }
    let oidc = local_api::auth::oidc_mode()?;
    let hosted = Function::ALL
        .into_iter()
        .filter(|f| jobs_configured || !matches!(f, Function::Jobs | Function::JobWorker))
        // The authorizer is not a route's function: the gateway invokes it (below).
        .filter(|f| *f != Function::Authorizer);
    for f in hosted {
        // A streaming function runs as long as its template timeout allows (the gateway bounds
        // the stream itself); the others get API Gateway's 29 s.
        let timeout = if f.streams() {
            Duration::from_secs(600)
        } else {
            Duration::from_secs(29)
        };
        let host = FunctionHost::bind(
            f.binary(),
            args.bin_dir.join(f.binary()),
            env.clone(),
            timeout,
        )
        .await?;
        host.start().await?;
        functions.insert(f, host);
    }
    for host in functions.values() {
        host.wait_ready(Duration::from_secs(60)).await?;
    }
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("port {} is in use; pick another with --port", args.port))?;
    // Lambda runs a queue's batches in parallel environments (up to MaximumConcurrency): so do
    // we, with JOB_WORKER_CONCURRENCY worker processes (default 2), each polling the job queue.
    let mut extra_workers = Vec::new();
    if jobs_configured && let Some(worker) = functions.get(&Function::JobWorker) {
        let concurrency: usize = std::env::var("JOB_WORKER_CONCURRENCY")
            .ok()
            .map(|v| v.parse().context("JOB_WORKER_CONCURRENCY must be a number"))
            .transpose()?
            .unwrap_or(2)
            .clamp(1, 16);
        let mut workers = vec![worker.clone()];
        for i in 2..=concurrency {
            let host = FunctionHost::bind(
                &format!("{}-{i}", Function::JobWorker.binary()),
                args.bin_dir.join(Function::JobWorker.binary()),
                env.clone(),
                Duration::from_secs(29),
            )
            .await?;
            host.start().await?;
            host.wait_ready(Duration::from_secs(60)).await?;
            workers.push(host.clone());
            extra_workers.push(host);
        }
        start_job_event_sources(workers).await?;
    }
    let authorizer = if oidc {
        let host = FunctionHost::bind(
            Function::Authorizer.binary(),
            args.bin_dir.join(Function::Authorizer.binary()),
            env.clone(),
            // The template's timeout of the authorizer function.
            Duration::from_secs(10),
        )
        .await?;
        host.start().await?;
        host.wait_ready(Duration::from_secs(60)).await?;
        Some(host)
    } else {
        None
    };
    let auth = local_api::auth::GatewayAuth::from_env(authorizer.clone())?;
    let gateway = Arc::new(Gateway {
        stage: args.stage,
        functions,
        auth,
    });
    println!(
        "local API listening on http://127.0.0.1:{} ({} functions ready)",
        // The bound port: `--port 0` lets the system pick one, and this line says which.
        listener.local_addr()?.port(),
        gateway.functions.len()
    );
    tokio::select! {
        _ = gateway.clone().serve(listener) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    for host in extra_workers.iter().chain(&authorizer) {
        host.stop().await;
    }
    for host in gateway.functions.values() {
        host.stop().await;
    }
    Ok(())
}
