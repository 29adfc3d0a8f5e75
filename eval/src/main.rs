//! Quality report of the intent engines on the public data in `shared/eval/`.
//!
//! `cargo run --profile tool -p eval -- [--data ../shared/eval] [--limit N] [--depth N] [--queries N] [--full-corpus] [--tune | --tune-classify | --tune-score | --own-entities] [--quick | --latency] [--out FILE]`
//!
//! Every intent runs through `shared::intents::*` on real request types (what users get), with
//! the classic engine (`EmbeddedProvider::new()`), embeddings alone and the hybrid engine; the
//! metric of each sits next to the classic baselines. The table is printed and written to
//! `EVALUATION.md`. `--tune` instead runs the tuning sweeps (SciFact *train* qrels, the project's
//! own classify examples) whose results are the defaults of `shared`'s `Tuning`;
//! `--own-entities` prints every answer of the extract name rules on the project's own news
//! sentences that differs from their gold, the place to try a rule before a test set is measured.
//!
//! # Layout
//! - [`data`]: loaders; [`metrics`] (+ [`porter`]): nDCG, ROUGE, P/R/F1; [`cache`]: on-disk
//!   embedding cache so reruns skip the model; [`tasks`]: one runner per intent and the latency
//!   probe; [`entities`]: people, organisations and places on the annotated sets; [`targets`]:
//!   the issue-11 before / now / target table; [`tune`]: the tuning sweeps.

mod cache;
mod data;
mod entities;
mod metrics;
mod porter;
mod targets;
mod tasks;
mod tune;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use shared::embed::MiniLm;

use cache::CachedEmbedder;

pub struct Args {
    pub data: PathBuf,
    pub limit: Option<usize>,
    pub tune: bool,
    /// `--tune-classify`: only the classify calibration sweep (own examples; no SciFact).
    pub tune_classify: bool,
    /// `--tune-score`: only the score sweeps (SciFact train qrels).
    pub tune_score: bool,
    /// `--own-entities`: the name rules on the project's own news sentences, with every answer
    /// that differs from the gold (for trying a rule before any test set is measured).
    pub own_entities: bool,
    /// `--quick`: classify and extract only, printed, `EVALUATION.md` left alone (for iterating).
    pub quick: bool,
    /// `--latency`: only the latency table, printed and written over the report's latency section.
    pub latency_only: bool,
    pub out: PathBuf,
    /// BM25 candidates reranked per SciFact query (`/v1/score` takes at most 100).
    pub depth: usize,
    /// SciFact test queries to run (default: all 300, or `--limit`).
    pub queries: Option<usize>,
    /// Also run full-corpus dense retrieval (embeds all 5,183 SciFact documents).
    pub full_corpus: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = Args {
        data: PathBuf::from("../shared/eval"),
        limit: None,
        tune: false,
        tune_classify: false,
        tune_score: false,
        own_entities: false,
        quick: false,
        latency_only: false,
        out: root.join("EVALUATION.md"),
        depth: 100,
        queries: None,
        full_corpus: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--data" => args.data = PathBuf::from(it.next().context("--data needs a path")?),
            "--limit" => {
                args.limit = Some(
                    it.next()
                        .context("--limit needs a number")?
                        .parse()
                        .context("--limit")?,
                )
            }
            "--tune" => args.tune = true,
            "--quick" => args.quick = true,
            "--latency" => args.latency_only = true,
            "--tune-classify" => {
                args.tune = true;
                args.tune_classify = true;
            }
            "--tune-score" => {
                args.tune = true;
                args.tune_score = true;
            }
            "--own-entities" => {
                args.tune = true;
                args.own_entities = true;
            }
            "--full-corpus" => args.full_corpus = true,
            "--queries" => {
                args.queries = Some(
                    it.next()
                        .context("--queries needs a number")?
                        .parse()
                        .context("--queries")?,
                )
            }
            "--depth" => {
                args.depth = it
                    .next()
                    .context("--depth needs a number")?
                    .parse::<usize>()
                    .context("--depth")?
                    .clamp(1, 100)
            }
            "--out" => args.out = PathBuf::from(it.next().context("--out needs a path")?),
            other => anyhow::bail!(
                "unknown argument {other}; usage: eval [--data DIR] [--limit N] [--depth N] [--queries N] [--full-corpus] [--tune | --tune-classify | --tune-score | --own-entities] [--quick | --latency] [--out FILE]"
            ),
        }
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let model_dir = std::env::var_os("MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".tools/model/all-MiniLM-L6-v2"));
    let started = Instant::now();
    // Quantised (where the CPU runs it) at load, not in the background: every vector of the
    // report, and the cache probes, come from the same arithmetic.
    let precision = shared::embed::Precision::from_env()
        .map_err(anyhow::Error::msg)?
        .resolved();
    let model = Arc::new(MiniLm::load_with(&model_dir, precision).with_context(|| {
        format!(
            "loading the model from {} (run scripts/setup.sh)",
            model_dir.display()
        )
    })?);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let cache = Arc::new(CachedEmbedder::open(
        Box::new(ModelRef(model.clone())),
        target.join("eval-cache/all-MiniLM-L6-v2.bin"),
    )?);
    eprintln!("cache: {} vectors", cache.len());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("tokio runtime")?;
    let result = runtime.block_on(async {
        if args.tune {
            tune::tune(&args, cache.clone()).await
        } else {
            tasks::report(&args, cache.clone(), model.clone(), started).await
        }
    });
    cache.save()?;
    result
}

/// Lets the cache own a shared handle to the model that the latency probe also uses uncached.
struct ModelRef(Arc<MiniLm>);

impl shared::embed::Embedder for ModelRef {
    fn model_id(&self) -> &str {
        self.0.model_id()
    }
    fn dimensions(&self) -> usize {
        self.0.dimensions()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, shared::embed::EmbedError> {
        self.0.embed(texts)
    }
    fn token_count(&self, text: &str) -> usize {
        self.0.token_count(text)
    }
}
