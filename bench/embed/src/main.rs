//! Embedding throughput of `shared::embed::MiniLm` on the texts in a JSON file (a list of
//! strings): model load time, then `--repeat` timed passes over all texts, handed to the model in
//! one call as sentence-transformers' `encode` gets them (the model sorts them by length and
//! batches internally; `--batch N` hands them over N at a time instead); prints JSON with texts/s, tokens/s and the vectors of one pass (for the cosine
//! agreement check against sentence-transformers and onnxruntime in `python/embed_bench.py`).

use std::path::PathBuf;
use std::time::Instant;

use shared::embed::{Embedder, MiniLm};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut model_dir = PathBuf::new();
    let mut texts_path = PathBuf::new();
    let (mut batch, mut repeat) = (0usize, 3usize);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--model-dir" => model_dir = PathBuf::from(value),
            "--texts" => texts_path = PathBuf::from(value),
            "--batch" => batch = value.parse()?,
            "--repeat" => repeat = value.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    // The model's load breakdown (tokenizer, weights, check) goes to stderr, the bench log.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let texts: Vec<String> = serde_json::from_slice(&std::fs::read(&texts_path)?)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let loaded = Instant::now();
    // The precision the functions run once warm, decided at load rather than in the background.
    let precision = shared::embed::Precision::from_env()?.resolved();
    let model = MiniLm::load_with(&model_dir, precision)?;
    let load_ms = loaded.elapsed().as_secs_f64() * 1e3;
    let tokens: usize = refs.iter().map(|t| model.token_count(t)).sum();
    // One untimed pass: allocator and kernel warm-up, as a warm Lambda would be.
    let vectors = embed_all(&model, &refs, batch)?;
    let mut seconds = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        std::hint::black_box(embed_all(&model, &refs, batch)?);
        seconds.push(t.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let out = serde_json::json!({
        "engine": "project MiniLm (candle, Rust)",
        "load_ms": load_ms,
        "texts": refs.len(),
        "tokens": tokens,
        "batch": batch,
        "pass_seconds": seconds,
        "texts_per_s": refs.len() as f64 / median,
        "tokens_per_s": tokens as f64 / median,
        "vectors": vectors,
    });
    println!("{out}");
    Ok(())
}

/// Hands the texts to the model `batch` at a time, or all at once when `batch` is 0 (the
/// model then sorts them by length and batches internally, as sentence-transformers' `encode`
/// does with its list).
fn embed_all(
    model: &MiniLm,
    refs: &[&str],
    batch: usize,
) -> Result<Vec<Vec<f32>>, shared::embed::EmbedError> {
    if batch == 0 {
        return model.embed(refs);
    }
    let mut vectors = Vec::with_capacity(refs.len());
    for chunk in refs.chunks(batch) {
        vectors.extend(model.embed(chunk)?);
    }
    Ok(vectors)
}
