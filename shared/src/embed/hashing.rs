//! [`HashingEmbedder`]: a deterministic, model-free [`Embedder`] for unit tests of code that
//! consumes embeddings. Texts sharing words get similar vectors, so ranking and threshold logic
//! can be tested in microseconds without the 90 MB model.

use super::{EmbedError, Embedder, MiniLm};

/// Feature hashing of lowercased word unigrams and bigrams into `dims` buckets, L2-normalised.
///
/// Each feature adds ±weight to one bucket (the sign comes from another bit of the same hash,
/// which keeps collisions from systematically inflating similarity). The hash is FNV-1a, fixed
/// here rather than `std`'s hasher, so vectors are identical across runs, platforms and Rust
/// versions and tests may assert on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashingEmbedder {
    dims: usize,
}

/// Bigrams count for less than words so one shared word dominates over word order.
const BIGRAM_WEIGHT: f32 = 0.5;
/// Feature given to texts without any word, so they still get a unit vector like MiniLm gives.
const EMPTY_FEATURE: &str = "\u{0}empty";

impl HashingEmbedder {
    /// `dims` buckets; 0 is raised to 1 so every vector has a dimension to carry its unit norm.
    pub fn new(dims: usize) -> Self {
        Self { dims: dims.max(1) }
    }

    fn embed_one(&self, text: &str) -> Vec<f32> {
        let words = words(text);
        let mut vector = vec![0.0f32; self.dims];
        if words.is_empty() {
            self.add_feature(&mut vector, EMPTY_FEATURE, 1.0);
        }
        for word in &words {
            self.add_feature(&mut vector, word, 1.0);
        }
        for pair in words.windows(2) {
            // The separator cannot occur inside a word, so bigrams never collide with unigrams.
            self.add_feature(
                &mut vector,
                &format!("{} {}", pair[0], pair[1]),
                BIGRAM_WEIGHT,
            );
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        } else {
            // Every feature cancelled out (opposite signs in one bucket); a fixed unit vector
            // keeps the "always L2-normalised" promise.
            vector[0] = 1.0;
        }
        vector
    }

    fn add_feature(&self, vector: &mut [f32], feature: &str, weight: f32) {
        let hash = fnv1a(feature.as_bytes());
        // usize is at least 32 bits on every supported target, so the modulo fits.
        let bucket = (hash % self.dims as u64) as usize;
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        vector[bucket] += sign * weight;
    }
}

/// Same width as all-MiniLM-L6-v2, so code sizing buffers or storage from `dimensions()` is
/// exercised with the production value.
impl Default for HashingEmbedder {
    fn default() -> Self {
        Self::new(384)
    }
}

impl Embedder for HashingEmbedder {
    fn model_id(&self) -> &str {
        "hashing-test"
    }

    fn dimensions(&self) -> usize {
        self.dims
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|text| self.embed_one(text)).collect())
    }

    /// Words plus [CLS] and [SEP], capped like the real model, so limit logic behaves alike.
    fn token_count(&self, text: &str) -> usize {
        (words(text).len() + 2).min(MiniLm::MAX_TOKENS)
    }
}

/// Lowercased runs of alphanumeric characters.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Embedder, cosine};
    use super::HashingEmbedder;

    fn embed(embedder: &HashingEmbedder, text: &str) -> Vec<f32> {
        embedder
            .embed(&[text])
            .expect("the hashing embedder never fails")
            .remove(0)
    }

    #[test]
    fn reports_its_identity_and_size() {
        let embedder = HashingEmbedder::new(64);
        assert_eq!(embedder.model_id(), "hashing-test");
        assert_eq!(embedder.dimensions(), 64);
        assert_eq!(HashingEmbedder::default().dimensions(), 384);
        assert_eq!(HashingEmbedder::new(0).dimensions(), 1);
    }

    #[test]
    fn vectors_have_the_right_length_and_unit_norm() {
        let embedder = HashingEmbedder::new(64);
        let vectors = embedder
            .embed(&["reset my password", "", "!!!", "a b c d e f g"])
            .expect("the hashing embedder never fails");
        assert_eq!(vectors.len(), 4);
        for vector in &vectors {
            assert_eq!(vector.len(), 64);
            let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
        }
    }

    #[test]
    fn is_deterministic_and_case_insensitive() {
        let a = HashingEmbedder::new(128);
        let b = HashingEmbedder::new(128);
        assert_eq!(
            embed(&a, "Reset my Password"),
            embed(&b, "reset my password")
        );
    }

    #[test]
    fn shared_words_are_more_similar_than_unrelated_text() {
        let embedder = HashingEmbedder::default();
        let query = embed(&embedder, "cannot log in to my account");
        let related = embed(&embedder, "my account login is broken, cannot log in");
        let unrelated = embed(&embedder, "the weather is sunny today");
        assert!(cosine(&query, &related) > cosine(&query, &unrelated) + 0.2);
    }

    #[test]
    fn word_order_matters_through_bigrams() {
        let embedder = HashingEmbedder::default();
        let a = embed(&embedder, "dog bites man");
        let b = embed(&embedder, "man bites dog");
        let similarity = cosine(&a, &b);
        assert!(similarity < 0.99 && similarity > 0.5, "{similarity}");
    }

    #[test]
    fn empty_batch_and_token_counts() {
        let embedder = HashingEmbedder::default();
        assert!(
            embedder
                .embed(&[])
                .expect("the hashing embedder never fails")
                .is_empty()
        );
        assert_eq!(embedder.token_count(""), 2);
        assert_eq!(embedder.token_count("two words"), 4);
        let long = "word ".repeat(1000);
        assert_eq!(embedder.token_count(&long), 256);
    }
}
