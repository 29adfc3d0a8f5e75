//! The tuning sweeps whose results are the defaults of `shared`'s `Tuning`: the score fusion
//! weight on SciFact *train* qrels, and the classify calibration on the project's own messages
//! (`eval/data/own_classify.json`); and the extract name rules read on the project's own news
//! sentences (`eval/data/own_entities.jsonl`). Nothing here reads an evaluation set's test items.

use std::sync::Arc;

use anyhow::Context;
use shared::contract::classify::{ClassifyRequest, ClassifyResponse, Label};
use shared::engine::text::Analyzer;
use shared::intents;
use shared::provider::embedded::{EmbeddedProvider, Fusion, Tuning};

use crate::Args;
use crate::cache::CachedEmbedder;
use crate::tasks::{FirstStage, ndcg_of, queries_of, rerank_scores};
use crate::{data, entities};

/// The tuning sweeps: score fusion weight on SciFact train, classify calibration on the
/// project's own examples. Prints the best settings; they are copied into `Tuning::default()`.
pub async fn tune(args: &Args, embedder: Arc<CachedEmbedder>) -> anyhow::Result<()> {
    if args.tune_classify {
        return tune_classify(args, embedder).await;
    }
    if args.own_entities {
        return own_entities(embedder).await;
    }
    let analyzer = Analyzer::english();
    let sf = data::scifact(&args.data)?;
    let first = FirstStage::new(&sf, &analyzer);
    let train = queries_of(&sf, &sf.train, &first, &analyzer, args.limit, args.depth);
    eprintln!("tuning score on {} SciFact train queries", train.len());
    let base = Tuning::default();
    for fusion in [Fusion::MinMax, Fusion::Absolute] {
        let lexical = EmbeddedProvider::with_embedder(embedder.clone()).with_tuning(Tuning {
            score_lexical_weight: 1.0,
            score_fusion: fusion,
            ..base
        });
        let dense = EmbeddedProvider::with_embedder(embedder.clone()).with_tuning(Tuning {
            score_lexical_weight: 0.0,
            score_fusion: fusion,
            ..base
        });
        let mut runs = Vec::new();
        for (q, run) in &train {
            let s1 = rerank_scores(&lexical, &sf, q, &run.candidates).await?;
            let s0 = rerank_scores(&dense, &sf, q, &run.candidates).await?;
            runs.push((s1, s0));
        }
        for step in 0..=20 {
            let w = step as f32 / 20.0;
            let mean: f64 = train
                .iter()
                .zip(&runs)
                .map(|((_, run), (s1, s0))| {
                    let fused: Vec<f32> = s1
                        .iter()
                        .zip(s0)
                        .map(|(a, b)| w * a + (1.0 - w) * b)
                        .collect();
                    ndcg_of(&sf, &run.candidates, &fused, &run.qrels)
                })
                .sum::<f64>()
                / train.len().max(1) as f64;
            println!("score {fusion:?} lexical_weight={w:.2} nDCG@10(train)={mean:.4}");
        }
    }
    // The model's budget per request: passage size and wordpieces embedded, with the other
    // weights as shipped. The request's time grows with the wordpieces, so the sweep prints the
    // mean embedded per request next to the quality.
    for passage_tokens in [128usize, 200] {
        for budget in [1024usize, 1536, 2048, 2560, 3072, 4096, 1 << 20] {
            let p = EmbeddedProvider::with_embedder(embedder.clone()).with_tuning(Tuning {
                score_passage_tokens: passage_tokens,
                score_embedded_tokens: budget,
                ..base
            });
            let (mut sum, mut tokens) = (0.0f64, 0u64);
            for (q, run) in &train {
                let (scores, embedded) =
                    crate::tasks::rerank_scores_with_usage(&p, &sf, q, &run.candidates).await?;
                sum += ndcg_of(&sf, &run.candidates, &scores, &run.qrels);
                tokens += embedded;
            }
            let n = train.len().max(1);
            println!(
                "score passage_tokens={passage_tokens} embedded_tokens={budget} nDCG@10(train)={:.4} mean embedded wordpieces={}",
                sum / n as f64,
                tokens / n as u64
            );
        }
    }
    if args.tune_score {
        return Ok(());
    }
    tune_classify(args, embedder).await
}

#[derive(serde::Deserialize)]
struct OwnSet {
    labels: Vec<Label>,
    examples: Vec<OwnExample>,
}

#[derive(serde::Deserialize)]
struct OwnExample {
    text: String,
    label: Option<String>,
    /// Labels that apply too (a message about two topics); read by the multi-label sweep only.
    #[serde(default)]
    also: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Own {
    sets: Vec<OwnSet>,
}

/// One own message's gold label (`None`: fits no label) and the scores given, best first.
type Outcome = (Option<String>, Vec<(String, f32)>);

/// Classify calibration on the project's own examples. For each setting of temperature, null
/// similarity and the concept weights: the log-loss of "gold label, or none" (the calibration
/// objective), then for each commit factor the decisions it gives. The best setting minimises
/// log-loss; the commit factor is then the largest that still answers at least 95% of the
/// messages that fit a label (abstention must stay rare), so abstention falls on the least certain.
async fn tune_classify(_args: &Args, embedder: Arc<CachedEmbedder>) -> anyhow::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/own_classify.json");
    let own: Own = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| path.display().to_string())?,
    )?;
    let commits = [1.0f32, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2.0];
    let mut best: Option<(f64, Tuning, Vec<Outcome>)> = None;
    for temperature in [0.02f32, 0.03, 0.05, 0.08] {
        for null in [-0.1f32, 0.0, 0.025, 0.05, 0.075, 0.1, 0.2] {
            for sentiment in [0.0f32, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6] {
                for spam in [0.0f32, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8] {
                    let tuning = Tuning {
                        classify_temperature: temperature,
                        classify_null_similarity: null,
                        classify_sentiment_weight: sentiment,
                        classify_spam_weight: spam,
                        ..Tuning::default()
                    };
                    let p = EmbeddedProvider::with_embedder(embedder.clone()).with_tuning(tuning);
                    let (mut loss, mut n) = (0.0f64, 0usize);
                    let mut outcomes = Vec::new();
                    for set in &own.sets {
                        for ex in &set.examples {
                            let out = classify_own(&p, set, ex, false).await?;
                            let scores: Vec<(String, f32)> = out
                                .labels
                                .iter()
                                .map(|l| (l.name.clone(), l.score))
                                .collect();
                            let total: f32 = scores.iter().map(|l| l.1).sum();
                            let p_gold = match &ex.label {
                                Some(g) => scores
                                    .iter()
                                    .find(|l| &l.0 == g)
                                    .map(|l| l.1)
                                    .unwrap_or(0.0),
                                None => 1.0 - total,
                            };
                            loss -= f64::from(p_gold.clamp(1e-4, 1.0)).ln();
                            n += 1;
                            outcomes.push((ex.label.clone(), scores));
                        }
                    }
                    let key = loss / n.max(1) as f64;
                    println!(
                        "classify T={temperature} null={null} sentiment={sentiment} spam={spam} logloss={key:.4}"
                    );
                    if best.as_ref().is_none_or(|(b, _, _)| key < *b) {
                        best = Some((key, tuning, outcomes));
                    }
                }
            }
        }
    }
    let Some((loss, tuning, outcomes)) = best else {
        return Ok(());
    };
    println!(
        "BEST T={} null={} sentiment={} spam={} logloss={loss:.4}",
        tuning.classify_temperature,
        tuning.classify_null_similarity,
        tuning.classify_sentiment_weight,
        tuning.classify_spam_weight
    );
    for c in commits {
        let (mut labelled, mut top_right, mut abstained, mut answered_right, mut null_committed) =
            (0usize, 0usize, 0usize, 0usize, 0usize);
        for (gold, scores) in &outcomes {
            let threshold = (c / scores.len().max(1) as f32).min(0.5);
            let top = scores.first().filter(|s| s.1 >= threshold).map(|s| &s.0);
            match gold {
                None => null_committed += usize::from(top.is_some()),
                Some(g) => {
                    labelled += 1;
                    top_right += usize::from(scores.first().is_some_and(|s| &s.0 == g));
                    match top {
                        None => abstained += 1,
                        Some(t) if t == g => answered_right += 1,
                        Some(_) => {}
                    }
                }
            }
        }
        let answered = labelled - abstained;
        println!(
            "  commit={c} top-label accuracy={:.3} abstention={:.3} accuracy among answered={:.3} committed on a message that fits no label={null_committed}",
            top_right as f64 / labelled.max(1) as f64,
            abstained as f64 / labelled.max(1) as f64,
            answered_right as f64 / answered.max(1) as f64,
        );
    }
    tune_multi_label(&own, embedder, tuning).await
}

/// Multi-label calibration on the same own messages, read label by label: a label applies when
/// it is the message's label or one of its `also` labels. For each sigmoid centre and slope: the
/// mean binary log-loss over (message, label) pairs, then at the best setting what the default
/// threshold (0.5) selects.
async fn tune_multi_label(
    own: &Own,
    embedder: Arc<CachedEmbedder>,
    base: Tuning,
) -> anyhow::Result<()> {
    let mut best: Option<(f64, Tuning)> = None;
    for centre in [0.05f32, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4] {
        for slope in [5.0f32, 10.0, 15.0, 20.0, 30.0, 40.0] {
            let tuning = Tuning {
                classify_multi_label_centre: centre,
                classify_sigmoid_slope: slope,
                ..base
            };
            let stats = multi_label_stats(own, &embedder, tuning).await?;
            println!(
                "multi-label centre={centre} slope={slope} logloss={:.4}",
                stats.loss
            );
            if best.as_ref().is_none_or(|(b, _)| stats.loss < *b) {
                best = Some((stats.loss, tuning));
            }
        }
    }
    let Some((loss, tuning)) = best else {
        return Ok(());
    };
    let s = multi_label_stats(own, &embedder, tuning).await?;
    println!(
        "BEST multi-label centre={} slope={} logloss={loss:.4}: selected {} labels, {} right \
         (precision {:.3}, recall {:.3} of {} that apply); messages that fit no label with a \
         selection: {} of {}",
        tuning.classify_multi_label_centre,
        tuning.classify_sigmoid_slope,
        s.selected,
        s.right,
        s.right as f64 / s.selected.max(1) as f64,
        s.right as f64 / s.apply.max(1) as f64,
        s.apply,
        s.off_topic_selected,
        s.off_topic
    );
    Ok(())
}

/// The extract name rules on the project's own news sentences: every answer that is not a gold
/// string, then P/R/F1 per field, as the report counts them.
async fn own_entities(embedder: Arc<CachedEmbedder>) -> anyhow::Result<()> {
    let set = entities::OWN_NEWS;
    let items =
        data::annotated_jsonl(&set.dir(std::path::Path::new("")), set.file, &set.columns())?;
    let p = EmbeddedProvider::with_embedder(embedder);
    for line in entities::disagreements(&p, &set, &items).await? {
        println!("{line}");
    }
    for (field, prf) in entities::run(&p, &set, &items).await? {
        println!(
            "{field}: P {:.3} R {:.3} F1 {:.3} ({} texts)",
            prf.precision(),
            prf.recall(),
            prf.f1(),
            items.len()
        );
    }
    Ok(())
}

/// One own message classified against its set's labels at default threshold, as the API does.
async fn classify_own(
    p: &EmbeddedProvider,
    set: &OwnSet,
    ex: &OwnExample,
    multi_label: bool,
) -> anyhow::Result<ClassifyResponse> {
    let request = ClassifyRequest {
        text: ex.text.clone(),
        labels: set.labels.clone(),
        multi_label,
        threshold: None,
    };
    let out = intents::classify::classify(p, &request, crate::tasks::offline())
        .await
        .map_err(|e| anyhow::anyhow!("classify: {e:?}"))?;
    Ok(out.result)
}

struct MultiStats {
    loss: f64,
    selected: usize,
    right: usize,
    apply: usize,
    off_topic: usize,
    off_topic_selected: usize,
}

async fn multi_label_stats(
    own: &Own,
    embedder: &Arc<CachedEmbedder>,
    tuning: Tuning,
) -> anyhow::Result<MultiStats> {
    let p = EmbeddedProvider::with_embedder(embedder.clone()).with_tuning(tuning);
    let mut st = MultiStats {
        loss: 0.0,
        selected: 0,
        right: 0,
        apply: 0,
        off_topic: 0,
        off_topic_selected: 0,
    };
    let mut pairs = 0usize;
    for set in &own.sets {
        for ex in &set.examples {
            let out = classify_own(&p, set, ex, true).await?;
            let applies =
                |name: &str| ex.label.as_deref() == Some(name) || ex.also.iter().any(|a| a == name);
            for l in &out.labels {
                let yes = applies(&l.name);
                let p_gold = if yes { l.score } else { 1.0 - l.score };
                st.loss -= f64::from(p_gold.clamp(1e-4, 1.0)).ln();
                pairs += 1;
                st.apply += usize::from(yes);
            }
            for name in &out.selected {
                st.selected += 1;
                st.right += usize::from(applies(name));
            }
            if ex.label.is_none() {
                st.off_topic += 1;
                st.off_topic_selected += usize::from(!out.selected.is_empty());
            }
        }
    }
    st.loss /= pairs.max(1) as f64;
    Ok(st)
}
