//! One embedding batch per request: every text the request needs (message and labels, query and
//! passages, items and profile) goes to the model in a single [`Embedder::embed`] call, and a
//! text that occurs twice (a repeated label, two identical passages) is embedded once.
//!
//! The batch also yields the request's accounting: texts embedded and model tokens read.

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
        let unique = if unique_texts.is_empty() {
            Vec::new()
        } else {
            embedder
                .embed(&unique_texts)
                .map_err(|e| ProviderError::Internal(anyhow::Error::new(e)))?
        };
        if unique.len() != unique_texts.len() {
            return Err(ProviderError::Internal(anyhow::anyhow!(
                "the embedder returned {} vectors for {} texts",
                unique.len(),
                unique_texts.len()
            )));
        }
        let usage = Usage {
            input_tokens: unique_texts
                .iter()
                .map(|t| embedder.token_count(t) as u64)
                .sum(),
            embedded_texts: unique_texts.len() as u64,
            ..Usage::default()
        };
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
        assert_eq!(v.usage.input_tokens, 8);
        assert!((v.sim(0, 2) - 1.0).abs() < 1e-6);
        assert!(v.sim(0, 1) < 0.9);
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
