//! One embedding batch per request: every text the request needs (message and labels, query and
//! passages, items and profile) goes to the model in a single [`Embedder::embed`] call, and a
//! text that occurs twice (a repeated label, two identical passages) is embedded once.
//!
//! The batch also yields the request's accounting: model tokens read, texts embedded by the model,
//! and texts answered by the embedding cache (see [`crate::embed::CachedEmbedder`]).

use std::collections::HashMap;

use crate::contract::Usage;
use crate::embed::{Embedder, cosine};
use crate::provider::ProviderError;

/// The vectors of one request's texts, addressable by the position the text had in the batch.
pub(super) struct Vectors {
    unique: Vec<Vec<f32>>,
    /// Position in the batch → index into `unique`.
    slot: Vec<usize>,
    pub(super) usage: Usage,
}

impl Vectors {
    /// Embeds `texts` in one call; duplicates are embedded once.
    pub(super) fn embed(embedder: &dyn Embedder, texts: &[&str]) -> Result<Self, ProviderError> {
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(texts.len());
        let mut unique_texts: Vec<&str> = Vec::new();
        let slot: Vec<usize> = texts
            .iter()
            .map(|&t| {
                *first.entry(t).or_insert_with(|| {
                    unique_texts.push(t);
                    unique_texts.len() - 1
                })
            })
            .collect();
        if unique_texts.is_empty() {
            return Ok(Vectors {
                unique: Vec::new(),
                slot,
                usage: Usage::default(),
            });
        }
        let batch = embedder
            .embed_counted(&unique_texts)
            .map_err(|e| ProviderError::Internal(anyhow::Error::new(e)))?;
        if batch.vectors.len() != unique_texts.len()
            || batch.token_counts.len() != unique_texts.len()
            || batch.cache_hits > unique_texts.len()
        {
            return Err(ProviderError::Internal(anyhow::anyhow!(
                "the embedder returned {} vectors, {} token counts and {} cache hits for {} texts",
                batch.vectors.len(),
                batch.token_counts.len(),
                batch.cache_hits,
                unique_texts.len()
            )));
        }
        let misses = (unique_texts.len() - batch.cache_hits) as u64;
        let usage = Usage {
            // Tokens of every text the request needed, cached or not: the request's size, the
            // same on a warm and a cold instance.
            input_tokens: batch.token_counts.iter().map(|&n| n as u64).sum(),
            embedded_texts: misses,
            embedding_cache_hits: Some(batch.cache_hits as u64),
            embedding_cache_misses: Some(misses),
            ..Usage::default()
        };
        let unique = batch.vectors;
        Ok(Vectors {
            unique,
            slot,
            usage,
        })
    }

    /// The vector of the text at batch position `i` (empty if out of range, which then compares
    /// as similarity 0).
    pub(super) fn get(&self, i: usize) -> &[f32] {
        self.slot
            .get(i)
            .and_then(|&u| self.unique.get(u))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Cosine similarity of the texts at batch positions `a` and `b`.
    pub(super) fn sim(&self, a: usize, b: usize) -> f32 {
        let (x, y) = (self.get(a), self.get(b));
        if x.len() != y.len() {
            return 0.0;
        }
        cosine(x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::{EmbedError, HashingEmbedder};
    use std::sync::Mutex;

    /// Records every batch it is asked to embed.
    struct Recording {
        inner: HashingEmbedder,
        calls: Mutex<Vec<usize>>,
    }

    impl Embedder for Recording {
        fn model_id(&self) -> &str {
            "recording"
        }
        fn dimensions(&self) -> usize {
            self.inner.dimensions()
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.calls.lock().expect("lock").push(texts.len());
            self.inner.embed(texts)
        }
        fn token_count(&self, text: &str) -> usize {
            self.inner.token_count(text)
        }
    }

    #[test]
    fn duplicates_are_embedded_once_in_one_call() {
        let e = Recording {
            inner: HashingEmbedder::default(),
            calls: Mutex::new(Vec::new()),
        };
        let v = Vectors::embed(&e, &["a b", "c d", "a b"]).expect("embeds");
        assert_eq!(*e.calls.lock().expect("lock"), vec![2]);
        assert_eq!(v.usage.embedded_texts, 2);
        assert_eq!(v.usage.embedding_cache_hits, Some(0));
        assert_eq!(v.usage.embedding_cache_misses, Some(2));
        assert_eq!(v.usage.input_tokens, 8);
        assert!((v.sim(0, 2) - 1.0).abs() < 1e-6);
        assert!(v.sim(0, 1) < 0.9);
    }

    #[test]
    fn cached_texts_count_as_hits_not_as_embedded_and_keep_their_tokens() {
        let e = crate::embed::CachedEmbedder::new(
            Recording {
                inner: HashingEmbedder::default(),
                calls: Mutex::new(Vec::new()),
            },
            1 << 20,
        );
        let first = Vectors::embed(&e, &["a b", "c d"]).expect("embeds");
        let second = Vectors::embed(&e, &["c d", "e f", "a b", "c d"]).expect("embeds");
        assert_eq!(second.usage.embedded_texts, 1, "only e f was new");
        assert_eq!(second.usage.embedding_cache_hits, Some(2));
        assert_eq!(second.usage.embedding_cache_misses, Some(1));
        assert_eq!(second.usage.input_tokens, 12, "tokens of every unique text");
        assert_eq!(second.get(0), first.get(1));
        assert_eq!(second.get(2), first.get(0));
        assert_eq!(second.get(3), first.get(1));
    }

    #[test]
    fn empty_batch_calls_nothing_and_out_of_range_is_zero() {
        let e = Recording {
            inner: HashingEmbedder::default(),
            calls: Mutex::new(Vec::new()),
        };
        let v = Vectors::embed(&e, &[]).expect("embeds");
        assert!(e.calls.lock().expect("lock").is_empty());
        assert_eq!(v.usage, Usage::default());
        assert!(v.get(3).is_empty());
        assert_eq!(v.sim(0, 1), 0.0);
    }
}
