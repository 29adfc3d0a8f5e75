//! [`MiniLm`]: sentence-transformers' all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT) run in-process
//! with candle on the CPU in f32, reproducing sentence-transformers' pipeline: wordpiece
//! tokenization truncated to 256 tokens, BERT forward with an attention mask, mean pooling over
//! the real (non-padding) tokens, L2 normalisation.
//!
//! Loading validates every file and reports the first problem as a distinct [`EmbedError`], so a
//! broken deployment fails at cold start with a message naming the file, not at the first request.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Tensor;
use quant_gemm::QuantLinear;
use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::bert::{Bert, BertConfig};
use super::checkpoint::{self, CheckpointError, Deferred};
use super::packed;
use super::quant::Precision;
use super::word_table::WordTable;
use super::{EmbedError, Embedder};

/// Identifier reported to API clients; the directory layout is the one the Hugging Face repo
/// `sentence-transformers/all-MiniLM-L6-v2` ships.
const MODEL_ID: &str = "all-MiniLM-L6-v2";
/// Width of the model's hidden states, and so of every embedding.
const HIDDEN_SIZE: usize = 384;
/// Texts per forward pass. Bounds peak memory (activations grow with batch × length²) while
/// keeping the matrix multiplications large enough to use the cores well.
const BATCH_SIZE: usize = 32;

const CONFIG_FILE: &str = "config.json";
const TOKENIZER_FILE: &str = "tokenizer.json";
const WEIGHTS_FILE: &str = "model.safetensors";

/// all-MiniLM-L6-v2 loaded into memory (~44 MB of f32 weights at load, or ~22 MB when the
/// projections are read quantised, plus the word embeddings of the texts seen so far, up to
/// 47 MB more), ready to embed.
///
/// Cheap to share: every method takes `&self` and the type is `Send + Sync`, so one instance per
/// process behind an `Arc` serves all requests.
pub struct MiniLm {
    model: Bert,
    tokenizer: Tokenizer,
    /// Whether the projections were read quantised from `model.int16.safetensors`.
    prequantised: bool,
}

impl MiniLm {
    /// Longest input, in wordpiece tokens including [CLS] and [SEP], that the model sees; the
    /// rest of a longer text is cut off. 256 is what the model was fine-tuned with and what
    /// sentence-transformers uses (`max_seq_length = 256`); BERT's position table would allow
    /// 512, but past 256 the embeddings were never trained and quality drops. The tokenizer.json
    /// the model ships says 128 (a leftover from the base model), so it is overridden here.
    pub const MAX_TOKENS: usize = 256;

    /// Loads and validates the model from `dir`, which must hold `config.json`,
    /// `tokenizer.json` and `model.safetensors` (what `scripts/setup.sh` downloads).
    ///
    /// Files are checked cheapest first, so a missing tokenizer is reported rather than a problem
    /// in the weights (the two are read at the same time). The weights are read straight into their tensors ([`checkpoint`])
    /// rather than memory-mapped, because mapping needs `unsafe`, which this workspace forbids;
    /// the word-embedding table, half of them, stays in the file and is read a row at a time
    /// when a token first needs it ([`WordTable`]).
    ///
    /// The projections are multiplied in the precision `EMBEDDING_PRECISION` names
    /// ([`Precision`]); a value it does not know stops the load. When that precision is integer
    /// and `model.int16.safetensors` is there, the projections are read from it already
    /// quantised ([`packed`]).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let precision = Precision::from_env().map_err(EmbedError::Setting)?;
        Self::load_with(dir, precision)
    }

    /// [`MiniLm::load`] with the precision given rather than read from the environment.
    pub fn load_with(dir: &Path, precision: Precision) -> Result<Self, EmbedError> {
        let started = Instant::now();
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(EmbedError::ModelMissing {
                    path: dir.to_path_buf(),
                    what: "directory (the path exists but is not a directory)",
                });
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(EmbedError::ModelMissing {
                    path: dir.to_path_buf(),
                    what: "directory",
                });
            }
            Err(source) => {
                return Err(EmbedError::Unreadable {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }

        let config_path = dir.join(CONFIG_FILE);
        let config = parse_config(&config_path, &read_model_file(&config_path, "config file")?)?;

        // The tokenizer is parsed on a second thread while this one reads the weights: the two
        // take about as long as each other and share nothing, and cold start is the sum of what
        // runs one after the other. A tokenizer problem is still the one reported when both
        // files are bad, as if they were read in turn.
        let tokenizer_path = dir.join(TOKENIZER_FILE);
        let weights_path = dir.join(WEIGHTS_FILE);
        // Projections stored quantised are read as they are, when this precision multiplies in
        // integers and the file is there ([`packed`]).
        let packed_path = dir.join(packed::FILE);
        let prefer_packed = precision.quantised() && packed_path.is_file();
        let weights_started = Instant::now();
        let (tokenizer, tokenizer_ms, weights, read_ms) = std::thread::scope(|scope| {
            let tokenizer = scope.spawn(|| {
                let started = Instant::now();
                let tokenizer = read_model_file(&tokenizer_path, "tokenizer file")
                    .and_then(|bytes| load_tokenizer(&tokenizer_path, &bytes, &config));
                (tokenizer, started.elapsed().as_millis() as u64)
            });
            let weights = read_weights(&weights_path, prefer_packed.then_some(&packed_path));
            let read_ms = weights_started.elapsed().as_millis() as u64;
            let (tokenizer, tokenizer_ms) = tokenizer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (tokenizer, tokenizer_ms, weights, read_ms)
        });
        let tokenizer = tokenizer?;
        let Weights {
            tensors,
            packed,
            word_embeddings,
        } = weights?;
        let prequantised = !packed.is_empty();
        let joined_ms = weights_started.elapsed().as_millis() as u64;
        let model = Bert::load(tensors, packed, word_embeddings, &config).map_err(|reason| {
            corrupt(
                &weights_path,
                format!("weights do not fit the BERT config: {reason}"),
            )
        })?;
        let weights_ms = weights_started.elapsed().as_millis() as u64 - joined_ms;

        let this = Self {
            model,
            tokenizer,
            prequantised,
        };
        // One tiny forward pass so a model that loads but cannot run fails here, at cold start,
        // rather than on the first request.
        let check_started = Instant::now();
        this.embed(&[""])?;
        this.model.quantise(precision).map_err(|reason| {
            corrupt(&weights_path, format!("quantising the weights: {reason}"))
        })?;
        tracing::info!(
            model = MODEL_ID,
            dir = %dir.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            tokenizer_ms,
            read_ms,
            weights_ms,
            check_ms = check_started.elapsed().as_millis() as u64,
            threads = candle_core::utils::get_num_threads(),
            quantised = precision.quantised(),
            prequantised,
            "embedding model loaded"
        );
        Ok(this)
    }

    /// Whether the projections were read already quantised (`model.int16.safetensors`) rather
    /// than from the f32 checkpoint.
    pub fn prequantised(&self) -> bool {
        self.prequantised
    }

    /// Embeds one batch: runs BERT over the encodings packed one after another (no padding),
    /// mean-pools each sequence's tokens and L2-normalises. Returns one vector per encoding, in
    /// the same order.
    fn embed_batch(&self, batch: &[&Encoding]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let lengths: Vec<usize> = batch.iter().map(|e| e.len()).collect();
        let ids: Vec<u32> = batch.iter().flat_map(|e| e.get_ids()).copied().collect();
        let hidden = self
            .model
            .forward(&ids, &lengths)
            .and_then(|hidden| hidden.flatten_all()?.to_vec1::<f32>())
            .map_err(|err| EmbedError::Inference(err.to_string()))?;
        let mut rows = hidden.chunks_exact(HIDDEN_SIZE);
        Ok(lengths
            .iter()
            .map(|&len| {
                let mut mean = vec![0f32; HIDDEN_SIZE];
                for row in rows.by_ref().take(len) {
                    for (sum, &x) in mean.iter_mut().zip(row) {
                        *sum += x;
                    }
                }
                // Every token of a packed sequence is real (the attention mask is all ones), so
                // the mean is over `len`; `max(1)` mirrors sentence-transformers' floor.
                let count = len.max(1) as f32;
                mean.iter_mut().for_each(|x| *x /= count);
                // Same floor as torch.nn.functional.normalize.
                let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                mean.iter_mut().for_each(|x| *x /= norm);
                mean
            })
            .collect())
    }
}

impl Embedder for MiniLm {
    fn model_id(&self) -> &str {
        MODEL_ID
    }

    fn dimensions(&self) -> usize {
        HIDDEN_SIZE
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        // `_fast` skips computing character offsets, which pooling never uses.
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|err| EmbedError::Tokenizer(err.to_string()))?;

        // Batching texts of similar length keeps attention's padding (wasted work, quadratic in
        // length) small; the sort is stable and results are written back by original index.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&index| encodings[index].len());
        let mut vectors = vec![Vec::new(); encodings.len()];
        for chunk in order.chunks(BATCH_SIZE) {
            let batch: Vec<&Encoding> = chunk.iter().map(|&index| &encodings[index]).collect();
            for (&index, vector) in chunk.iter().zip(self.embed_batch(&batch)?) {
                vectors[index] = vector;
            }
        }
        tracing::debug!(
            texts = texts.len(),
            tokens = encodings.iter().map(Encoding::len).sum::<usize>(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "embedded"
        );
        Ok(vectors)
    }

    fn token_count(&self, text: &str) -> usize {
        match self.tokenizer.encode_fast(text, true) {
            Ok(encoding) => encoding.len(),
            Err(err) => {
                // The BERT tokenizer does not fail on any UTF-8 string in practice; if it ever
                // does, a word-based estimate is more useful to quota and billing code than 0.
                tracing::warn!(error = %err, "token_count: tokenizer failed, estimating");
                (text.split_whitespace().count() + 2).min(Self::MAX_TOKENS)
            }
        }
    }
}

impl fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiniLm")
            .field("model_id", &MODEL_ID)
            .field("dimensions", &HIDDEN_SIZE)
            .field("max_tokens", &Self::MAX_TOKENS)
            .field("prequantised", &self.prequantised)
            .finish_non_exhaustive()
    }
}

/// Reads a whole model file, telling "missing" (run setup) apart from "unreadable" (fix the
/// filesystem).
fn read_model_file(path: &Path, what: &'static str) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|source| io_error(path, what, source))
}

/// A model file that could not be read: missing (run setup) or unreadable (fix the filesystem).
fn io_error(path: &Path, what: &'static str, source: std::io::Error) -> EmbedError {
    if source.kind() == std::io::ErrorKind::NotFound {
        EmbedError::ModelMissing {
            path: path.to_path_buf(),
            what,
        }
    } else {
        EmbedError::Unreadable {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> EmbedError {
    EmbedError::Corrupt {
        path: PathBuf::from(path),
        reason: reason.into(),
    }
}

/// Parses config.json and checks it describes a BERT of the width this type promises.
fn parse_config(path: &Path, bytes: &[u8]) -> Result<BertConfig, EmbedError> {
    let config: BertConfig = serde_json::from_slice(bytes)
        .map_err(|err| corrupt(path, format!("not a valid BERT config: {err}")))?;
    config.check().map_err(|reason| corrupt(path, reason))?;
    if config.hidden_size != HIDDEN_SIZE {
        return Err(corrupt(
            path,
            format!(
                "hidden_size is {}, all-MiniLM-L6-v2 has {HIDDEN_SIZE}",
                config.hidden_size
            ),
        ));
    }
    if config.max_position_embeddings < MiniLm::MAX_TOKENS {
        return Err(corrupt(
            path,
            format!(
                "max_position_embeddings is {}, at least {} are needed",
                config.max_position_embeddings,
                MiniLm::MAX_TOKENS
            ),
        ));
    }
    Ok(config)
}

/// Parses tokenizer.json and sets the pipeline's own truncation and padding: truncate to
/// [`MiniLm::MAX_TOKENS`], never pad (batches are packed; only attention pads, internally).
fn load_tokenizer(path: &Path, bytes: &[u8], config: &BertConfig) -> Result<Tokenizer, EmbedError> {
    let mut tokenizer = super::tokenizer::load(bytes)
        .map_err(|err| corrupt(path, format!("not a valid tokenizer: {err}")))?;
    let vocab = tokenizer.get_vocab_size(true);
    if vocab != config.vocab_size {
        return Err(corrupt(
            path,
            format!(
                "vocabulary has {vocab} tokens but config.json says {}",
                config.vocab_size
            ),
        ));
    }
    for special in ["[CLS]", "[SEP]", "[PAD]", "[UNK]"] {
        if tokenizer.token_to_id(special).is_none() {
            return Err(corrupt(path, format!("special token {special} is missing")));
        }
    }
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: MiniLm::MAX_TOKENS,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(|err| corrupt(path, format!("cannot set truncation: {err}")))?;
    Ok(tokenizer)
}

/// Where the word-embedding table sits in a checkpoint (with or without the "bert." prefix
/// that checkpoints saved from `BertForMaskedLM` and friends carry).
const WORD_EMBEDDINGS: [&str; 2] = [
    "embeddings.word_embeddings.weight",
    "bert.embeddings.word_embeddings.weight",
];

/// What [`read_weights`] read.
struct Weights {
    tensors: HashMap<String, Tensor>,
    /// The projections read quantised, by weight name; empty when they were read in f32.
    packed: HashMap<String, QuantLinear>,
    word_embeddings: WordTable,
}

/// Reads the safetensors file into tensors, all but the word-embedding table, which is read row
/// by row on first use ([`WordTable`]); tells "missing" and "unreadable" apart from "corrupt" as
/// [`read_model_file`] does.
///
/// With `packed` (the stored quantised projections), the f32 projections stay in the file and
/// the stored ones are read instead; a stored file that does not check out against the
/// checkpoint is logged and the f32 projections are read after all, so a stale or damaged
/// derived file costs time, never answers.
fn read_weights(path: &Path, packed: Option<&Path>) -> Result<Weights, EmbedError> {
    let defer_projections = packed.is_some();
    let checkpoint::Checkpoint {
        tensors, deferred, ..
    } = checkpoint::read(path, |name, shape| {
        WORD_EMBEDDINGS.contains(&name)
            || (defer_projections && quant_gemm::stored::is_projection(name, shape))
    })
    .map_err(|err| match err {
        CheckpointError::Io(source) => io_error(path, "weights file", source),
        CheckpointError::Corrupt(reason) => {
            corrupt(path, format!("not a readable safetensors file: {reason}"))
        }
    })?;
    let Some(table) = WORD_EMBEDDINGS.iter().find_map(|name| deferred.get(*name)) else {
        return Err(corrupt(
            path,
            "weights do not fit the BERT config: tensor embeddings.word_embeddings.weight is missing",
        ));
    };
    let &[rows, width] = table.shape.as_slice() else {
        return Err(corrupt(
            path,
            format!(
                "weights do not fit the BERT config: tensor embeddings.word_embeddings.weight has shape {:?}",
                table.shape
            ),
        ));
    };
    let file =
        std::fs::File::open(path).map_err(|source| io_error(path, "weights file", source))?;
    let table_at = table.offset;
    let stored = match packed {
        None => HashMap::new(),
        Some(packed_path) => {
            let source_len = file
                .metadata()
                .map_err(|source| io_error(path, "weights file", source))?
                .len();
            let projections: HashMap<String, Deferred> = deferred
                .into_iter()
                .filter(|(name, _)| !WORD_EMBEDDINGS.contains(&name.as_str()))
                .collect();
            match packed::read(packed_path, &file, source_len, &projections) {
                Ok(stored) => stored,
                Err(reason) => {
                    tracing::warn!(
                        file = %packed_path.display(),
                        reason = %reason,
                        "the stored quantised projections do not match the checkpoint; \
                         quantising the f32 weights instead (scripts/setup.sh writes the file \
                         again)"
                    );
                    return read_weights(path, None);
                }
            }
        }
    };
    Ok(Weights {
        tensors,
        packed: stored,
        word_embeddings: WordTable::new(file, table_at, rows, width),
    })
}
