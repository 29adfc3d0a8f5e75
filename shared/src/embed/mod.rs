//! Sentence embeddings: the [`Embedder`] contract, the in-process all-MiniLM-L6-v2 model
//! ([`MiniLm`], candle on CPU), the warm-environment cache in front of it ([`CachedEmbedder`]),
//! a deterministic test double ([`HashingEmbedder`]), [`cosine`] similarity and the
//! [`EmbedError`] every embedder reports.
//!
//! The model runs inside the Lambda process on the CPU: no network call, no GPU. Loading costs a
//! fraction of a second and ~90 MB of weights, so callers load one [`MiniLm`] per execution
//! environment (cold start) and share it (`Arc<dyn Embedder>`) across invocations.
//!
//! [`Embedder::embed`] is CPU-bound and blocking; async callers should run it on a blocking
//! thread (`tokio::task::spawn_blocking`) rather than on the runtime's worker threads.
//!
//! This module only refers to its own items through `self::`/`super::` so it compiles unchanged
//! wherever it is mounted.

mod bert;
mod cache;
mod checkpoint;
mod error;
mod hashing;
mod kernels;
mod minilm;
mod packed;
mod quant;
mod tokenizer;
mod word_table;

#[cfg(test)]
mod model_tests;

pub use self::cache::CachedEmbedder;
pub use self::error::EmbedError;
pub use self::hashing::HashingEmbedder;
pub use self::minilm::MiniLm;
pub use self::quant::Precision;

/// Turns texts into fixed-size, L2-normalised vectors whose dot product measures meaning overlap.
pub trait Embedder: Send + Sync {
    /// Stable identifier reported to API clients, e.g. "all-MiniLM-L6-v2".
    fn model_id(&self) -> &str;
    /// Length of every vector [`Embedder::embed`] returns.
    fn dimensions(&self) -> usize;
    /// One L2-normalised vector per input, in order. Batches internally.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// Number of wordpiece tokens the model sees for `text` (after truncation, incl. [CLS]/[SEP]).
    fn token_count(&self, text: &str) -> usize;

    /// [`Embedder::embed`] with each text's [`Embedder::token_count`] and how many texts a cache
    /// answered. Without a cache that is `embed` and `token_count` per text; [`CachedEmbedder`]
    /// answers repeated texts (vector and count) from memory.
    fn embed_counted(&self, texts: &[&str]) -> Result<Embedded, EmbedError> {
        Ok(Embedded {
            vectors: self.embed(texts)?,
            token_counts: texts.iter().map(|t| self.token_count(t)).collect(),
            cache_hits: 0,
        })
    }
}

/// One batch from [`Embedder::embed_counted`].
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// One vector per input, in order.
    pub vectors: Vec<Vec<f32>>,
    /// One token count per input, in order.
    pub token_counts: Vec<usize>,
    /// Inputs answered from a cache; the others were embedded by the model.
    pub cache_hits: usize,
}

/// Cosine similarity in `[-1, 1]`.
///
/// For the L2-normalised vectors an [`Embedder`] returns this equals the dot product; the norms
/// are still divided out so the function is also right for vectors from elsewhere. A zero vector
/// (or a non-finite result) gives `0.0` instead of NaN so rankings never see NaN. Vectors of
/// different lengths are a caller bug (different models): debug builds panic, release builds
/// compare the common prefix.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "cosine of vectors of different lengths");
    let (mut dot, mut norm_a, mut norm_b) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        norm_a += x * x;
        norm_b += y * y;
    }
    let denominator = (norm_a * norm_b).sqrt();
    if denominator == 0.0 || !denominator.is_finite() {
        return 0.0;
    }
    let similarity = dot / denominator;
    if similarity.is_finite() {
        // Rounding can push identical vectors a hair past 1.0.
        similarity.clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::cosine;

    #[test]
    fn cosine_of_identical_vectors_is_one() {
        let v = [0.6, 0.8, 0.0];
        assert!((cosine(&v, &v) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn cosine_of_opposite_and_orthogonal_vectors() {
        assert!((cosine(&[1.0, 0.0], &[-1.0, 0.0]) + 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 2.0]).abs() < 1e-6);
    }

    #[test]
    fn cosine_ignores_magnitude() {
        assert!((cosine(&[3.0, 4.0], &[0.3, 0.4]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn cosine_with_zero_vector_is_zero_not_nan() {
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[0.0, 0.0]), 0.0);
        assert_eq!(cosine(&[], &[]), 0.0);
    }

    #[test]
    fn cosine_with_non_finite_input_is_zero() {
        assert_eq!(cosine(&[f32::NAN, 1.0], &[1.0, 1.0]), 0.0);
        assert_eq!(cosine(&[f32::INFINITY, 1.0], &[1.0, 1.0]), 0.0);
    }
}
