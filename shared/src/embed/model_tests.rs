//! Tests of [`MiniLm`] against the real all-MiniLM-L6-v2 files: agreement with vectors produced
//! by the Python sentence-transformers reference (tests/fixtures/embed/reference.json), semantic
//! ordering, batching, truncation, edge inputs and load-time validation.
//!
//! The model directory is `MODEL_DIR` if set, else `<crate>/../.tools/model/all-MiniLM-L6-v2`,
//! where `scripts/setup.sh` installs it. A missing model FAILS these tests (it never skips them):
//! a green run must mean the model really was exercised.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{EmbedError, Embedder, MiniLm, Precision, cosine};

/// Vectors from the Python reference; see its "note" field for how they were produced.
/// Located relative to this source file so it resolves wherever the module is compiled.
const REFERENCE_JSON: &str = include_str!("../../tests/fixtures/embed/reference.json");

fn model_dir() -> PathBuf {
    std::env::var_os("MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/model/all-MiniLM-L6-v2")
        })
}

/// One model for the whole test binary: loading reads 90 MB, and tests run in parallel.
fn model() -> &'static MiniLm {
    static MODEL: OnceLock<MiniLm> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = model_dir();
        MiniLm::load(&dir).unwrap_or_else(|err| {
            panic!(
                "cannot load all-MiniLM-L6-v2 from {} ({err}). These tests need the real model: \
                 run scripts/setup.sh (or set MODEL_DIR to a directory holding it).",
                dir.display()
            )
        })
    })
}

fn embed_one(text: &str) -> Vec<f32> {
    model()
        .embed(&[text])
        .expect("embedding one text")
        .remove(0)
}

fn norm(vector: &[f32]) -> f32 {
    vector.iter().map(|x| x * x).sum::<f32>().sqrt()
}

fn assert_unit(vector: &[f32]) {
    assert_eq!(vector.len(), 384);
    let norm = norm(vector);
    assert!((norm - 1.0).abs() < 1e-4, "norm {norm} is not 1");
    assert!(vector.iter().all(|x| x.is_finite()));
}

/// The start of a text, so a failure about the long reference sentence stays readable.
fn preview(text: &str) -> String {
    text.chars().take(60).collect()
}

struct Reference {
    text: String,
    token_count: usize,
    vector: Vec<f32>,
}

fn references() -> Vec<Reference> {
    let json: serde_json::Value = serde_json::from_str(REFERENCE_JSON).expect("reference.json");
    json["sentences"]
        .as_array()
        .expect("reference.json has a sentences array")
        .iter()
        .map(|entry| Reference {
            text: entry["text"].as_str().expect("text").to_owned(),
            token_count: entry["token_count"].as_u64().expect("token_count") as usize,
            vector: entry["vector"]
                .as_array()
                .expect("vector")
                .iter()
                .map(|x| x.as_f64().expect("vector element") as f32)
                .collect(),
        })
        .collect()
}

#[test]
fn reports_identity_and_dimensions() {
    let model = model();
    assert_eq!(model.model_id(), "all-MiniLM-L6-v2");
    assert_eq!(model.dimensions(), 384);
    assert!(format!("{model:?}").contains("all-MiniLM-L6-v2"));
}

#[test]
fn matches_python_reference_vectors() {
    let references = references();
    assert!(references.len() >= 3, "reference.json lost its sentences");
    let texts: Vec<&str> = references.iter().map(|r| r.text.as_str()).collect();
    let vectors = model()
        .embed(&texts)
        .expect("embedding the reference sentences");
    for (reference, vector) in references.iter().zip(&vectors) {
        assert_unit(vector);
        let similarity = cosine(vector, &reference.vector);
        assert!(
            similarity >= 0.9999,
            "{:?}: cosine to the Python reference is {similarity}",
            preview(&reference.text)
        );
        assert_eq!(
            model().token_count(&reference.text),
            reference.token_count,
            "{:?}: token count differs from the Python tokenizer",
            preview(&reference.text)
        );
    }
}

/// Both precisions, whatever this CPU would pick by default: the quantised projections must
/// give the reference vectors as the f32 ones do, and agree with them on every text.
#[test]
fn quantised_and_f32_projections_agree_with_the_reference_and_each_other() {
    let dir = model_dir();
    let f32_model = MiniLm::load_with(&dir, Precision::F32).expect("f32 model");
    let int16_model = MiniLm::load_with(&dir, Precision::Int16).expect("int16 model");
    let references = references();
    let long = "word ".repeat(400);
    let mut texts: Vec<&str> = references.iter().map(|r| r.text.as_str()).collect();
    texts.extend([
        "",
        "OK",
        "Ünïcödé, emoji 🚀 and CJK 漢字 in one line",
        "The food was cold and the waiter ignored us for 40 minutes. Never again.",
        long.as_str(),
    ]);
    let exact = f32_model.embed(&texts).expect("f32 embeddings");
    let quantised = int16_model.embed(&texts).expect("int16 embeddings");
    for (i, (a, b)) in exact.iter().zip(&quantised).enumerate() {
        assert_unit(b);
        let similarity = cosine(a, b);
        assert!(
            similarity >= 0.9999,
            "{:?}: int16 vs f32 cosine {similarity}",
            preview(texts[i])
        );
        if let Some(reference) = references.get(i) {
            let similarity = cosine(b, &reference.vector);
            assert!(
                similarity >= 0.9999,
                "{:?}: int16 vs Python {similarity}",
                preview(texts[i])
            );
        }
    }
}

#[test]
fn similar_meanings_rank_above_unrelated_ones() {
    let login = embed_one("I can't log in");
    let access = embed_one("account access problem");
    let weather = embed_one("the weather is nice");
    assert!(
        cosine(&login, &access) > cosine(&login, &weather) + 0.1,
        "login~access {} vs login~weather {}",
        cosine(&login, &access),
        cosine(&login, &weather)
    );

    let refund = embed_one("How do I get my money back for this order?");
    let refund_policy = embed_one("refund request for a purchase");
    let shipping = embed_one("What time does the train to Berlin leave?");
    assert!(cosine(&refund, &refund_policy) > cosine(&refund, &shipping) + 0.1);
}

#[test]
fn batching_and_sorting_do_not_change_results() {
    // Different lengths so the length sort really reorders, and more than one batch of 32.
    let mut texts: Vec<String> = vec![
        "Quarterly revenue grew by 12 percent, driven by strong demand in Europe and Asia."
            .to_owned(),
        "Hi".to_owned(),
        "I can't log in to my account".to_owned(),
    ];
    texts
        .extend((0..37).map(|i| format!("ticket {i}: {}", "the printer is jammed ".repeat(i % 7))));
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let together = model().embed(&refs).expect("embedding the batch");
    assert_eq!(together.len(), texts.len());
    for (text, vector) in refs.iter().zip(&together) {
        let alone = embed_one(text);
        let similarity = cosine(vector, &alone);
        assert!(
            similarity >= 0.9999,
            "{text:?}: batched vs alone cosine {similarity}"
        );
    }
}

#[test]
fn long_text_is_truncated_to_the_model_limit() {
    let long = "alpha beta gamma delta epsilon ".repeat(400); // 2,000 words
    assert_eq!(model().token_count(&long), MiniLm::MAX_TOKENS);
    let vectors = model()
        .embed(&[&long, "short"])
        .expect("embedding a long text");
    assert_unit(&vectors[0]);
    assert_unit(&vectors[1]);
    // Only the first 256 tokens are seen, so what follows them cannot change the vector.
    let longer = format!("{long} completely different ending about submarines");
    assert!(cosine(&vectors[0], &embed_one(&longer)) >= 0.9999);
}

#[test]
fn empty_and_unusual_inputs_work() {
    assert!(model().embed(&[]).expect("empty batch").is_empty());
    assert_eq!(model().token_count(""), 2, "[CLS] and [SEP] only");
    let vectors = model()
        .embed(&["", "   ", "naïve café 😀 日本語", "\u{0}\u{7}control"])
        .expect("embedding unusual inputs");
    for vector in &vectors {
        assert_unit(vector);
    }
}

/// A scratch directory unique to this test process and name, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("embed-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        Self(path)
    }

    /// Copies the real config and tokenizer so only the file under test is broken.
    fn with_real_text_files(name: &str) -> Self {
        let dir = Self::new(name);
        for file in ["config.json", "tokenizer.json"] {
            std::fs::copy(model_dir().join(file), dir.0.join(file)).unwrap_or_else(|err| {
                panic!("copying {file} from the model ({err}): run scripts/setup.sh")
            });
        }
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A model directory holding the real config, tokenizer and (hard-linked where it can be) f32
/// checkpoint, without the stored quantised projections.
fn f32_only_dir(name: &str) -> TempDir {
    let dir = TempDir::with_real_text_files(name);
    let weights = model_dir().join("model.safetensors");
    std::fs::hard_link(&weights, dir.0.join("model.safetensors"))
        .or_else(|_| std::fs::copy(&weights, dir.0.join("model.safetensors")).map(drop))
        .expect("linking the weights");
    dir
}

/// The texts the stored-projection tests embed: short, unusual and truncated ones.
fn sample_texts() -> Vec<String> {
    vec![
        String::new(),
        "The food was cold and the waiter ignored us for 40 minutes. Never again.".into(),
        "Ünïcödé, emoji 🚀 and CJK 漢字 in one line".into(),
        "word ".repeat(400),
    ]
}

fn embed_all(model: &MiniLm) -> Vec<Vec<f32>> {
    let texts = sample_texts();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    model.embed(&texts).expect("embeddings")
}

/// The stored projections are read when the precision is integer and never otherwise, and give
/// the vectors quantising at load gives: the same integers, except that the query's carry the
/// attention scale (1/√32) in their steps where quantising at load rounds the scaled weights,
/// so the two agree as closely as either agrees with f32.
#[test]
fn stored_projections_are_read_and_agree_with_quantising_at_load() {
    let dir = model_dir();
    assert!(
        dir.join("model.int16.safetensors").is_file(),
        "{} has no model.int16.safetensors: run scripts/setup.sh",
        dir.display()
    );
    let stored = MiniLm::load_with(&dir, Precision::Int16).expect("int16 model, stored");
    assert!(stored.prequantised());
    let plain = f32_only_dir("quantise-at-load");
    let at_load = MiniLm::load_with(&plain.0, Precision::Int16).expect("int16 model, at load");
    assert!(!at_load.prequantised());
    let f32_model = MiniLm::load_with(&dir, Precision::F32).expect("f32 model");
    assert!(!f32_model.prequantised());
    let exact = embed_all(&f32_model);
    let texts = sample_texts();
    for (i, (a, b)) in embed_all(&stored)
        .iter()
        .zip(embed_all(&at_load))
        .enumerate()
    {
        let text = preview(&texts[i]);
        assert_unit(a);
        assert!(cosine(a, &b) >= 0.9999, "{text:?}: stored vs at load");
        assert!(cosine(a, &exact[i]) >= 0.9999, "{text:?}: stored vs f32");
        assert!(cosine(&b, &exact[i]) >= 0.9999, "{text:?}: at load vs f32");
    }
}

/// A stored file that is not what the checkpoint gives (damaged, or made from other weights)
/// is set aside: the model loads, quantises its f32 weights, and answers as if it were absent.
#[test]
fn a_stored_file_that_does_not_match_the_checkpoint_is_set_aside() {
    let stored = std::fs::read(model_dir().join("model.int16.safetensors"))
        .expect("model.int16.safetensors: run scripts/setup.sh");

    let garbage = f32_only_dir("stored-garbage");
    std::fs::write(
        garbage.0.join("model.int16.safetensors"),
        b"not safetensors",
    )
    .expect("writing");
    let model = MiniLm::load_with(&garbage.0, Precision::Int16).expect("loads without it");
    assert!(!model.prequantised());
    let reference = embed_all(&model);

    let truncated = f32_only_dir("stored-truncated");
    std::fs::write(
        truncated.0.join("model.int16.safetensors"),
        &stored[..stored.len() - 2],
    )
    .expect("writing");
    let model = MiniLm::load_with(&truncated.0, Precision::Int16).expect("loads without it");
    assert!(!model.prequantised());
    assert_eq!(embed_all(&model), reference);

    // Other weights of the same size (one weight of one projection changed): only re-reading
    // rows of the checkpoint can tell, and it must.
    let other = TempDir::with_real_text_files("stored-stale");
    let mut weights = std::fs::read(model_dir().join("model.safetensors")).expect("weights");
    let header_len = u64::from_le_bytes(weights[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&weights[8..8 + header_len]).expect("header");
    let name = "encoder.layer.3.intermediate.dense.weight";
    let entry = header
        .get(name)
        .or_else(|| header.get(format!("bert.{name}").as_str()))
        .expect("the checkpoint has the projection");
    let start = 8 + header_len + entry["data_offsets"][0].as_u64().expect("offset") as usize;
    let first = f32::from_le_bytes(weights[start..start + 4].try_into().expect("4 bytes"));
    weights[start..start + 4].copy_from_slice(&(first + 0.25).to_le_bytes());
    std::fs::write(other.0.join("model.safetensors"), &weights).expect("writing weights");
    std::fs::write(other.0.join("model.int16.safetensors"), &stored).expect("writing");
    let model = MiniLm::load_with(&other.0, Precision::Int16).expect("loads without it");
    assert!(!model.prequantised(), "a stale file must not be used");
}

#[test]
fn missing_directory_is_model_missing() {
    let dir = std::env::temp_dir().join(format!("embed-test-{}-absent", std::process::id()));
    let err = MiniLm::load(&dir).expect_err("loading from a missing dir");
    assert!(
        matches!(&err, EmbedError::ModelMissing { path, .. } if *path == dir),
        "{err:?}"
    );
    assert!(err.to_string().contains("scripts/setup.sh"), "{err}");
}

#[test]
fn missing_weights_file_is_model_missing() {
    let dir = TempDir::with_real_text_files("no-weights");
    let err = MiniLm::load(&dir.0).expect_err("loading without weights");
    assert!(
        matches!(&err, EmbedError::ModelMissing { path, .. } if path.ends_with("model.safetensors")),
        "{err:?}"
    );
}

#[test]
fn garbage_weights_are_corrupt() {
    let dir = TempDir::with_real_text_files("garbage-weights");
    std::fs::write(
        dir.0.join("model.safetensors"),
        b"this is not a safetensors file",
    )
    .expect("writing garbage");
    let err = MiniLm::load(&dir.0).expect_err("loading garbage weights");
    assert!(
        matches!(&err, EmbedError::Corrupt { path, .. } if path.ends_with("model.safetensors")),
        "{err:?}"
    );
    assert!(err.to_string().contains("scripts/setup.sh"), "{err}");
}

#[test]
fn truncated_weights_are_corrupt() {
    let dir = TempDir::with_real_text_files("truncated-weights");
    let weights = std::fs::read(model_dir().join("model.safetensors")).expect("reading weights");
    std::fs::write(
        dir.0.join("model.safetensors"),
        &weights[..weights.len() / 2],
    )
    .expect("writing half the weights");
    let err = MiniLm::load(&dir.0).expect_err("loading truncated weights");
    assert!(
        matches!(&err, EmbedError::Corrupt { path, .. } if path.ends_with("model.safetensors")),
        "{err:?}"
    );
}

#[test]
fn garbage_config_and_tokenizer_are_corrupt() {
    let dir = TempDir::with_real_text_files("garbage-config");
    std::fs::write(dir.0.join("config.json"), "{\"hidden_size\": ").expect("writing garbage");
    let err = MiniLm::load(&dir.0).expect_err("loading a garbage config");
    assert!(
        matches!(&err, EmbedError::Corrupt { path, .. } if path.ends_with("config.json")),
        "{err:?}"
    );

    let dir = TempDir::with_real_text_files("garbage-tokenizer");
    std::fs::write(dir.0.join("tokenizer.json"), "[1, 2, 3]").expect("writing garbage");
    let err = MiniLm::load(&dir.0).expect_err("loading a garbage tokenizer");
    assert!(
        matches!(&err, EmbedError::Corrupt { path, .. } if path.ends_with("tokenizer.json")),
        "{err:?}"
    );
}

#[test]
fn wrong_width_config_is_corrupt() {
    let dir = TempDir::with_real_text_files("wide-config");
    let config = std::fs::read_to_string(dir.0.join("config.json")).expect("reading config");
    std::fs::write(
        dir.0.join("config.json"),
        config.replace("\"hidden_size\": 384", "\"hidden_size\": 768"),
    )
    .expect("writing config");
    let err = MiniLm::load(&dir.0).expect_err("loading a 768-wide config");
    assert!(
        matches!(&err, EmbedError::Corrupt { path, reason } if path.ends_with("config.json") && reason.contains("768")),
        "{err:?}"
    );
}

/// Load time and throughput on this machine. Ignored by default (timing, not correctness):
/// `cargo test --release -- --ignored --nocapture embedding_throughput`.
#[test]
#[ignore = "measurement, run explicitly in --release"]
fn embedding_throughput() {
    use std::time::Instant;

    let started = Instant::now();
    let model = MiniLm::load(&model_dir()).expect("loading the model");
    let load = started.elapsed();

    let topics = [
        "customer", "invoice", "server", "weather", "football", "recipe", "password", "flight",
    ];
    let texts: Vec<String> = (0..64)
        .map(|i| {
            format!(
                "Sentence number {i} talks about the {} and asks whether the team could \
                 please look into the issue this week",
                topics[i % topics.len()]
            )
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tokens: usize = refs.iter().map(|t| model.token_count(t)).sum();
    model.embed(&refs[..8]).expect("warm-up");

    let started = Instant::now();
    let rounds = 3;
    for _ in 0..rounds {
        model.embed(&refs).expect("embedding");
    }
    let seconds = started.elapsed().as_secs_f64() / f64::from(rounds);
    println!(
        "load {:.0} ms; 64 texts ({tokens} tokens, {:.1} words each) in {:.0} ms: \
         {:.0} texts/s, {:.0} tokens/s, {} threads",
        load.as_secs_f64() * 1000.0,
        texts
            .iter()
            .map(|t| t.split_whitespace().count())
            .sum::<usize>() as f64
            / 64.0,
        seconds * 1000.0,
        64.0 / seconds,
        tokens as f64 / seconds,
        candle_core::utils::get_num_threads(),
    );
}

/// The shipped tokenizer file takes the fast path, and the fast path encodes every kind of text
/// as `tokenizers`' generic loader does (accents, CJK, control and odd characters, long words,
/// special-token strings, emoji, truncation length).
#[test]
fn shipped_tokenizer_fast_path_matches_the_generic_loader() {
    use tokenizers::Tokenizer;
    let bytes = std::fs::read(model_dir().join("tokenizer.json")).expect("tokenizer.json");
    let fast =
        super::tokenizer::bert_pipeline(&bytes).expect("the shipped file takes the fast path");
    let mut generic = Tokenizer::from_bytes(&bytes).expect("generic");
    generic.with_padding(None);
    let long_word = "x".repeat(150);
    let texts = [
        "The food was cold and the waiter ignored us for 40 minutes. Never again.",
        "Crème brûlée à São Paulo, naïve façade — ½ price!",
        "東京都の天気は晴れです。北京欢迎你",
        "tabs\tand\nnewlines\r\nand\u{0}nul and \u{200b}zero-width",
        "[CLS] [SEP] [MASK] [PAD] [UNK] inside text",
        "emoji 😂👍🏽 and symbols ™ © ∑ ≥",
        long_word.as_str(),
        "Order #A-77812, INV-5531 and Ticket 88213 at 1200 Market Street, CA 94102.",
        "",
    ];
    for text in texts {
        let (a, b) = (
            fast.encode_fast(text, true).expect("fast"),
            generic.encode_fast(text, true).expect("generic"),
        );
        assert_eq!(a.get_ids(), b.get_ids(), "{text:?}");
    }
    assert_eq!(fast.get_vocab_size(true), generic.get_vocab_size(true));
}
