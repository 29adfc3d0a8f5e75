//! The `cache` section: what the embedding cache saves a warm `score` instance. The real release
//! binary with the real model answers the same 20-article request (`bench/payloads/
//! score-news.body.json`) twice; the first is embedded by the model, the second is answered from
//! the cache. Each round starts a fresh process and first sends a different request (other
//! texts), so the first measured request finds the model warm but the cache without its texts:
//! the ratio is the cache's, not the cold start's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use local_api::runtime::{FunctionHost, InvokeResult};
use serde_json::{Value, json};

use crate::{Args, base_env, ms, pct};

/// One invocation: end-to-end time through the Runtime API and the response's `meta`.
async fn score(host: &FunctionHost, event: &Bytes) -> anyhow::Result<(f64, Value)> {
    let t = Instant::now();
    let result = host.invoke(event.clone()).await;
    let took = ms(t.elapsed());
    let InvokeResult::Response(payload) = result else {
        anyhow::bail!("the score invocation failed: {result:?}");
    };
    let response: Value = serde_json::from_slice(&payload).context("an API Gateway response")?;
    anyhow::ensure!(
        response["statusCode"] == 200,
        "score answered {}: {}",
        response["statusCode"],
        response["body"]
    );
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or_default())
        .context("a JSON body")?;
    Ok((took, body["meta"].clone()))
}

fn event(body_file: &str) -> anyhow::Result<Bytes> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../payloads")
        .join(body_file);
    let body = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let mut event = api_tests::event::rest_event(
        "POST",
        "/v1/score",
        Some("application/json"),
        Some(&body),
        "bench",
    );
    event["resource"] = json!("/v1/score");
    Ok(Bytes::from(event.to_string()))
}

pub async fn cache(a: &Args, n: usize) -> anyhow::Result<()> {
    let n = n.clamp(3, 10);
    let binary = a.bin_dir.join("score");
    anyhow::ensure!(
        binary.is_file(),
        "{} not found: build it (cargo build --release -p score) or pass --bin-dir",
        binary.display()
    );
    let model_dir = a
        .model_dir
        .as_ref()
        .context("the cache section needs the model: run scripts/setup.sh or pass --model-dir")?;
    let mut env = base_env();
    env.push(("MODEL_DIR".into(), model_dir.display().to_string()));
    let host = FunctionHost::bind("score", binary, env, Duration::from_secs(29)).await?;
    let (warm_up, news) = (event("score.body.json")?, event("score-news.body.json")?);
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let (mut first_in, mut second_in) = (Vec::new(), Vec::new());
    let mut texts = 0;
    for _ in 0..n {
        host.start().await?;
        host.wait_ready(Duration::from_secs(30)).await?;
        score(&host, &warm_up).await?;
        let (t1, m1) = score(&host, &news).await?;
        let (t2, m2) = score(&host, &news).await?;
        host.stop().await;
        // The figures only mean something if the first request missed and the second hit.
        texts = m1["usage"]["embedded_texts"].as_u64().unwrap_or(0);
        anyhow::ensure!(
            texts > 0 && m1["usage"]["embedding_cache_hits"] == 0,
            "the first request was not embedded by the model: {m1}"
        );
        anyhow::ensure!(
            m2["usage"]["embedded_texts"] == 0 && m2["usage"]["embedding_cache_hits"] == texts,
            "the second request was not answered from the cache: {m2}"
        );
        first.push(t1);
        second.push(t2);
        first_in.push(m1["latency_ms"].as_f64().unwrap_or(f64::NAN));
        second_in.push(m2["latency_ms"].as_f64().unwrap_or(f64::NAN));
    }
    let (f, s) = (pct(&mut first, 0.5), pct(&mut second, 0.5));
    let (fi, si) = (pct(&mut first_in, 0.5), pct(&mut second_in, 0.5));
    println!(
        "## Embedding cache: the same 20-article `/v1/score` twice on a warm instance \
         ({n} fresh processes, p50)\n"
    );
    println!("| request | texts embedded | invocation (ms) | `meta.latency_ms` |");
    println!("|---|---:|---:|---:|");
    println!("| first (cache misses) | {texts} | {f:.1} | {fi:.0} |");
    println!("| second, identical (cache hits) | 0 | {s:.1} | {si:.0} |");
    println!("| **first ÷ second** | | **{:.1}×** | |\n", f / s);
    Ok(())
}
