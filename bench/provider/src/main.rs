//! What the generative provider layer costs, measured side by side in one run (all traffic on
//! 127.0.0.1, every loop bounded):
//!
//! - `overhead`: a summary through the real handler, `GenerativeProvider` and the OpenAI-compatible
//!   client against a local upstream that answers at once, next to the bare HTTP round trip of
//!   the same request to the same upstream. The difference is what the layer adds per call
//!   (prompt, schema, request building, parsing, decoding, checks, the envelope).
//! - `stream`: time to the first byte of summary text and to the whole summary, streamed
//!   (`/v1/summarize/stream`) against buffered (`/v1/summarize`), with an upstream writing
//!   tokens at a fixed rate.
//! - `cold`: cold start of one intent function binary (process start → first `/next`, then the
//!   first response) configured for each provider, cold starts interleaved round-robin.
//! - `cache`: the same 20-article score request twice on a warm instance of the real `score`
//!   binary, first embedded by the model, then answered from the embedding cache (see
//!   [`cache`]).
//!
//! - `metrics` (only when asked for): what one request's metric line costs, built and written to
//!   stdout as the handler does, next to writing a line of the same length alone.
//!
//! `bench-provider [--sections overhead,stream,cold,cache,metrics] [--n N] [--bin-dir DIR] [--model-dir DIR]`

mod cache;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use api_tests::token_upstream::{Ending, TokenUpstream};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use shared::http::{App, handle};
use shared::provider::SharedProvider;
use shared::provider::generative::GenerativeProvider;
use shared::provider::openai::{OpenAiChat, OpenAiSettings, ResponseFormat};
use shared::routes::Function;
use shared::store::memory::MemoryRequestLog;

const ARTICLE: &str = "The city council approved the new transit budget on Tuesday after a \
four-hour debate. The plan adds 40 electric buses and extends night service on six routes. \
Council members who opposed it said fares may rise next year to cover operating costs. The mayor \
called the vote a turning point for commuters in the eastern districts. Construction of two new \
depots is expected to begin in the spring.";

struct Args {
    sections: Vec<String>,
    n: usize,
    bin_dir: PathBuf,
    model_dir: Option<PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut a = Args {
        sections: vec![
            "overhead".into(),
            "stream".into(),
            "cold".into(),
            "cache".into(),
        ],
        n: 300,
        bin_dir: root.join("target/release"),
        model_dir: Some(root.join(".tools/model/all-MiniLM-L6-v2")).filter(|d| d.is_dir()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--sections" => a.sections = value()?.split(',').map(str::to_owned).collect(),
            "--n" => a.n = value()?.parse()?,
            "--bin-dir" => a.bin_dir = PathBuf::from(value()?),
            "--model-dir" => a.model_dir = Some(PathBuf::from(value()?)),
            other => anyhow::bail!(
                "unknown argument {other}; usage: bench-provider [--sections \
                 overhead,stream,cold,cache] [--n N] [--bin-dir DIR] [--model-dir DIR]"
            ),
        }
    }
    Ok(a)
}

/// A function process's environment for these sections: the template's globals, no DynamoDB
/// (the request-log write fails softly after the response).
fn base_env() -> Vec<(String, String)> {
    let mut base: Vec<(String, String)> = vec![
        ("REQUEST_LOG_TABLE".into(), "RequestLogTable".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "bench".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "bench".into()),
        (
            "AWS_ENDPOINT_URL_DYNAMODB".into(),
            "http://127.0.0.1:9".into(),
        ),
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
    ];
    base.extend(local_api::template_globals());
    base
}

fn pct(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    if samples.is_empty() {
        return f64::NAN;
    }
    let i = ((samples.len() - 1) as f64 * p).round() as usize;
    samples[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn openai(base_url: &str) -> SharedProvider {
    let chat = OpenAiChat::new(OpenAiSettings {
        base_url: base_url.to_owned(),
        model: "gpt-4o-mini".to_owned(),
        api_key: None,
        response_format: ResponseFormat::JsonSchema,
    })
    .expect("a valid configuration");
    Arc::new(GenerativeProvider::new(Arc::new(chat)))
}

fn app(function: Function, provider: SharedProvider) -> &'static App {
    let mut app = App::in_memory(function);
    app.provider = Some(provider);
    app.request_log = Arc::new(MemoryRequestLog::default());
    Box::leak(Box::new(app))
}

fn summarize_request(style: &str) -> lambda_http::Request {
    let body = json!({"text": ARTICLE, "max_sentences": 2, "style": style}).to_string();
    api_tests::event::post_json("/v1/summarize", &body, "bench").expect("an event")
}

async fn overhead(n: usize) -> anyhow::Result<()> {
    let upstream = TokenUpstream::start(
        &["Fares ", "may ", "rise."],
        Duration::ZERO,
        Ending::Complete,
    )
    .await;
    let app = app(Function::Summarize, openai(&upstream.base_url));
    // The bare round trip: the same body the provider sends, on a pooled HTTP/1.1 client.
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let body = Bytes::from(
        json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "system", "content": "x".repeat(900)}, {"role": "user", "content": ARTICLE}],
            "temperature": 0.0,
            "max_tokens": 380,
            "response_format": {"type": "json_schema", "json_schema": {"name": "abstractive_summary", "strict": true, "schema": {}}}
        })
        .to_string(),
    );
    let url: hyper::Uri = format!("{}/chat/completions", upstream.base_url).parse()?;
    let (mut full, mut bare) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n + 20 {
        let t = Instant::now();
        let response = handle(app, summarize_request("abstractive")).await;
        let took = t.elapsed();
        anyhow::ensure!(
            response.status() == 200,
            "the summary failed: {:?}",
            response.body()
        );
        let t = Instant::now();
        let request = hyper::Request::post(url.clone())
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))?;
        let answer = client.request(request).await?;
        answer.into_body().collect().await?;
        let raw = t.elapsed();
        if i >= 20 {
            full.push(ms(took));
            bare.push(ms(raw));
        }
    }
    let (f50, f99) = (pct(&mut full, 0.5), pct(&mut full, 0.99));
    let (b50, b99) = (pct(&mut bare, 0.5), pct(&mut bare, 0.99));
    println!("## Provider layer overhead (instant upstream, {n} calls after 20 warm-up)\n");
    println!("| path | p50 ms | p99 ms |\n|---|---:|---:|");
    println!(
        "| handler + GenerativeProvider + OpenAI client (abstractive summary) | {f50:.3} | {f99:.3} |"
    );
    println!("| bare HTTP round trip of the same request | {b50:.3} | {b99:.3} |");
    println!(
        "| **added by the provider layer** | **{:.3}** | **{:.3}** |\n",
        f50 - b50,
        f99 - b99
    );
    Ok(())
}

async fn stream(n: usize) -> anyhow::Result<()> {
    let n = n.clamp(3, 20);
    let tokens: Vec<String> = (0..40).map(|i| format!("word{i} ")).collect();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let interval = Duration::from_millis(25);
    let upstream = TokenUpstream::start(&tokens, interval, Ending::Complete).await;
    let buffered_app = app(Function::Summarize, openai(&upstream.base_url));
    let stream_app = app(Function::SummarizeStream, openai(&upstream.base_url));
    let (mut s_first, mut s_done, mut b_done) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        let mut event = api_tests::event::rest_event(
            "POST",
            "/v1/summarize/stream",
            Some("application/json"),
            Some(&json!({"text": ARTICLE, "style": "abstractive"}).to_string()),
            "bench",
        );
        event["resource"] = json!("/v1/summarize/stream");
        let request = lambda_http::request::from_str(&event.to_string())?;
        let response = shared::streaming::handler::handle(stream_app, request).await;
        let mut body = response.into_body();
        let mut first = None;
        let mut seen = String::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("infallible").into_data() {
                let data: Bytes = data;
                seen.push_str(&String::from_utf8_lossy(&data));
                if first.is_none() && seen.contains("event: delta") {
                    first = Some(t.elapsed());
                }
            }
        }
        anyhow::ensure!(
            seen.contains("event: done"),
            "the stream did not finish: {seen}"
        );
        s_first.push(ms(first.context("no delta")?));
        s_done.push(ms(t.elapsed()));

        let t = Instant::now();
        let response = handle(buffered_app, summarize_request("abstractive")).await;
        anyhow::ensure!(response.status() == 200, "the buffered summary failed");
        b_done.push(ms(t.elapsed()));
    }
    let (sf, sd, bd) = (
        pct(&mut s_first, 0.5),
        pct(&mut s_done, 0.5),
        pct(&mut b_done, 0.5),
    );
    println!(
        "## Streamed vs buffered summary (upstream writes 40 tokens, one every {} ms; p50 of {n})\n",
        interval.as_millis()
    );
    println!("| route | first summary text (ms) | whole summary (ms) |\n|---|---:|---:|");
    println!("| `/v1/summarize/stream` | {sf:.0} | {sd:.0} |");
    println!("| `/v1/summarize` (buffered) | {bd:.0} | {bd:.0} |");
    println!(
        "| ratio buffered ÷ streamed | {:.1}× | {:.2}× |\n",
        bd / sf,
        bd / sd
    );
    Ok(())
}

async fn cold(a: &Args, n: usize) -> anyhow::Result<()> {
    use local_api::runtime::FunctionHost;
    let n = n.clamp(3, 30);
    let binary = a.bin_dir.join("classify");
    anyhow::ensure!(
        binary.is_file(),
        "{} not found: build it (cargo build --release -p classify) or pass --bin-dir",
        binary.display()
    );
    // A Bedrock stand-in and an OpenAI-compatible one, so the first request completes.
    let bedrock = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "output": {"message": {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "classification", "input": {"labels": [{"index": 0, "score": 0.9}]}}}]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 100, "outputTokens": 10, "totalTokens": 110},
            "metrics": {"latencyMs": 1}
        })))
        .mount(&bedrock)
        .await;
    let base = base_env();
    let mut embedded = base.clone();
    if let Some(dir) = &a.model_dir {
        embedded.push(("MODEL_DIR".into(), dir.display().to_string()));
    }
    let mut on_bedrock = base.clone();
    on_bedrock.extend([
        ("INTENT_PROVIDER".into(), "bedrock".into()),
        (
            "BEDROCK_MODEL_ID".into(),
            "anthropic.claude-3-5-haiku-20241022-v1:0".into(),
        ),
        ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME".into(), bedrock.uri()),
    ]);
    let contenders = [("embedded (MiniLM)", embedded), ("bedrock", on_bedrock)];
    let payload = Bytes::from(std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../payloads/classify.json"),
    )?);
    let mut hosts = Vec::new();
    for (name, env) in &contenders {
        hosts.push((
            *name,
            FunctionHost::bind(
                "classify",
                binary.clone(),
                env.clone(),
                Duration::from_secs(29),
            )
            .await?,
        ));
    }
    let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); hosts.len()];
    for round in 0..=n {
        for (i, (name, host)) in hosts.iter().enumerate() {
            let t = Instant::now();
            host.start().await?;
            host.wait_ready(Duration::from_secs(30)).await?;
            let init = t.elapsed();
            let result = host.invoke(payload.clone()).await;
            let first = t.elapsed();
            anyhow::ensure!(
                matches!(result, local_api::runtime::InvokeResult::Response(_)),
                "{name}: the first invocation failed: {result:?}"
            );
            host.stop().await;
            // Round 0 warms the page cache only.
            if round > 0 {
                samples[i].0.push(ms(init));
                samples[i].1.push(ms(first));
            }
        }
    }
    println!("## Cold start of `classify` by provider ({n} interleaved cold starts each, p50)\n");
    println!("| provider | init (ms) | init + first response (ms) |\n|---|---:|---:|");
    for (i, (name, _)) in hosts.iter().enumerate() {
        let (init, first) = &mut samples[i];
        println!(
            "| {name} | {:.1} | {:.1} |",
            pct(init, 0.5),
            pct(first, 0.5)
        );
    }
    println!();
    Ok(())
}

fn metrics(n: usize) {
    use shared::metrics::{ProviderFailure, RequestMetrics, intent_of};
    use std::io::Write;
    let n = n.max(1) * 100;
    let line = RequestMetrics {
        function: Function::Summarize,
        intent: intent_of(Function::Summarize),
        provider: Some("openai"),
        status: 429,
        latency_ms: 812,
        usage: shared::contract::Usage {
            input_tokens: 1200,
            output_tokens: 90,
            ..Default::default()
        },
        cost_usd: Some(0.00042),
        provider_failure: Some(ProviderFailure::Throttled),
        request_id: "0eb486e4-8197-4e04-a346-6cc92a37ffa0",
    };
    let (mut emit, mut write) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let same_length = "x".repeat(line.line(0).len());
    for _ in 0..n {
        let t = Instant::now();
        line.emit();
        emit.push(ms(t.elapsed()) * 1000.0);
        let t = Instant::now();
        println!("{same_length}");
        write.push(ms(t.elapsed()) * 1000.0);
    }
    let _ = std::io::stdout().flush();
    let (e50, e99) = (pct(&mut emit, 0.5), pct(&mut emit, 0.99));
    let (w50, w99) = (pct(&mut write, 0.5), pct(&mut write, 0.99));
    eprintln!("## Metric line per request ({n} lines, stdout)\n");
    eprintln!("| step | p50 µs | p99 µs |\n|---|---:|---:|");
    eprintln!("| build and write the EMF line | {e50:.2} | {e99:.2} |");
    eprintln!("| write a line of the same length | {w50:.2} | {w99:.2} |");
    eprintln!(
        "| **building it** | **{:.2}** | **{:.2}** |\n",
        e50 - w50,
        e99 - w99
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    for section in a.sections.clone() {
        match section.as_str() {
            "overhead" => overhead(a.n).await?,
            "stream" => stream(a.n).await?,
            "cold" => cold(&a, a.n).await?,
            "metrics" => metrics(a.n),
            "cache" => cache::cache(&a, a.n).await?,
            other => {
                anyhow::bail!("unknown section {other}: overhead, stream, cold, cache or metrics")
            }
        }
    }
    Ok(())
}
