//! [`CachedEmbedder`]: an [`Embedder`] that remembers every vector it computed, on disk under
//! `target/eval-cache/`, so a rerun of the report does not embed the 5,183 SciFact abstracts (and
//! the other corpora) again. Only the report uses it: the product embeds per request.
//!
//! Vectors are keyed by the sha256 of the text; the model's output is deterministic, so a cached
//! vector is the vector the model would compute, as long as the model code has not changed. That
//! is checked on every open: a few probe texts are embedded live and compared with their cached
//! vectors, and a cache that no longer matches is discarded rather than reported on.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;
use sha2::{Digest, Sha256};
use shared::embed::{EmbedError, Embedder};

pub struct CachedEmbedder {
    inner: Box<dyn Embedder>,
    path: PathBuf,
    vectors: Mutex<HashMap<[u8; 32], Vec<f32>>>,
    /// Texts the model really embedded in this run.
    pub computed: Mutex<usize>,
}

/// Embedded live on every open. A short and a long text, so that a change in padding or
/// batching shows as well as one in the arithmetic.
const PROBES: [&str; 2] = [
    "Cache probe: is this still the vector the model computes?",
    "Cache probe, longer: the report reuses vectors computed by earlier runs, which is only \
     sound while the model code computes the same numbers. Tokenisation, the forward pass, \
     mean pooling over the attention mask and normalisation all feed into this vector, so a \
     change in any of them moves it by more than the tolerance below.",
];

/// Largest difference in any component still taken as the same vector: far above the
/// reordering noise of a parallel matrix multiplication (~1e-7), far below a real change.
const PROBE_TOLERANCE: f32 = 1e-5;

fn key(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl CachedEmbedder {
    /// Wraps `inner`, loading earlier vectors from `path` if it exists.
    pub fn open(inner: Box<dyn Embedder>, path: PathBuf) -> anyhow::Result<Self> {
        let dims = inner.dimensions();
        let mut vectors = HashMap::new();
        if let Ok(mut file) = std::fs::File::open(&path) {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .with_context(|| format!("reading {}", path.display()))?;
            let record = 32 + 4 * dims;
            for chunk in bytes.chunks_exact(record) {
                let mut k = [0u8; 32];
                k.copy_from_slice(&chunk[..32]);
                let v: Vec<f32> = chunk[32..]
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                vectors.insert(k, v);
            }
        }
        let live = inner
            .embed(&PROBES)
            .map_err(|err| anyhow::anyhow!("embedding the cache probes: {err}"))?;
        // Current = every probe is cached and still matches what the model computes now.
        let current = PROBES.iter().zip(&live).all(|(text, vector)| {
            vectors.get(&key(text)).is_some_and(|cached| {
                cached.len() == vector.len()
                    && cached
                        .iter()
                        .zip(vector)
                        .all(|(a, b)| (a - b).abs() <= PROBE_TOLERANCE)
            })
        });
        if !current && !vectors.is_empty() {
            eprintln!(
                "embedding cache {} was computed by a different model or model code: discarded",
                path.display()
            );
            vectors.clear();
        }
        for (text, vector) in PROBES.iter().zip(live) {
            vectors.insert(key(text), vector);
        }
        Ok(CachedEmbedder {
            inner,
            path,
            vectors: Mutex::new(vectors),
            computed: Mutex::new(0),
        })
    }

    pub fn len(&self) -> usize {
        self.vectors.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Writes every vector to the cache file.
    pub fn save(&self) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let vectors = self
            .vectors
            .lock()
            .map_err(|_| anyhow::anyhow!("cache lock poisoned"))?;
        let mut out = Vec::with_capacity(vectors.len() * (32 + 4 * self.inner.dimensions()));
        let mut keys: Vec<&[u8; 32]> = vectors.keys().collect();
        keys.sort();
        for k in keys {
            out.extend_from_slice(k);
            for x in &vectors[k] {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        let tmp = self.path.with_extension("tmp");
        std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&out))
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("renaming to {}", self.path.display()))?;
        Ok(())
    }
}

impl Embedder for CachedEmbedder {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let keys: Vec<[u8; 32]> = texts.iter().map(|t| key(t)).collect();
        let missing: Vec<usize> = {
            let cache = self
                .vectors
                .lock()
                .map_err(|_| EmbedError::Inference("cache lock poisoned".into()))?;
            (0..texts.len())
                .filter(|&i| !cache.contains_key(&keys[i]))
                .collect()
        };
        if !missing.is_empty() {
            let batch: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
            let fresh = self.inner.embed(&batch)?;
            let mut cache = self
                .vectors
                .lock()
                .map_err(|_| EmbedError::Inference("cache lock poisoned".into()))?;
            for (&i, v) in missing.iter().zip(fresh) {
                cache.insert(keys[i], v);
            }
            let computed = self.computed.lock().map(|mut n| {
                *n += missing.len();
                *n
            });
            drop(cache);
            // Save every ~1,000 new vectors: a long run that is stopped keeps what it paid for.
            if let Ok(n) = computed
                && n / 1000 != (n - missing.len()) / 1000
            {
                let _ = self.save();
            }
        }
        let cache = self
            .vectors
            .lock()
            .map_err(|_| EmbedError::Inference("cache lock poisoned".into()))?;
        Ok(keys
            .iter()
            .map(|k| cache.get(k).cloned().unwrap_or_default())
            .collect())
    }

    fn token_count(&self, text: &str) -> usize {
        self.inner.token_count(text)
    }
}
