//! The embedding cache: a [`CachedEmbedder`] wraps the model once per execution environment so a
//! text seen by an earlier request of the same warm environment (a label set, catalogue items, a
//! document sent again) is neither embedded nor tokenized a second time.
//!
//! An entry is keyed by the sha256 of the model id and the text (the text itself is not kept, so
//! an entry's size does not grow with its text and no user text sits in memory longer than the
//! request that sent it) and holds the vector and the text's token count. Entries are evicted
//! least recently used first once their bytes exceed the budget (`EMBEDDING_CACHE_MB`).
//!
//! The cache only ever returns what the model returned for the same model id and text: answers
//! are identical with and without it. Only accounting changes: hits are reported separately from
//! the texts the model embedded.

use std::sync::{Mutex, PoisonError};

use lru::LruCache;
use sha2::{Digest, Sha256};

use super::{EmbedError, Embedded, Embedder};

/// sha256 of the model id and the text: 256 bits, so a collision (which would hand one text
/// another's vector) is not a practical concern, unlike with a 64-bit `Hash`.
type Key = [u8; 32];

/// What one cached text costs besides its vector: the key, the token count, the vector's pointer
/// and length, and the LRU's list links and hash-table slot (two pointers, a key pointer and a
/// control byte, rounded up). Counting it keeps the budget honest for small vectors.
const ENTRY_OVERHEAD_BYTES: usize = std::mem::size_of::<Key>()
    + std::mem::size_of::<usize>()
    + std::mem::size_of::<Box<[f32]>>()
    + 32;

struct Entry {
    vector: Box<[f32]>,
    tokens: usize,
}

impl Entry {
    fn bytes(&self) -> usize {
        ENTRY_OVERHEAD_BYTES + std::mem::size_of_val(&*self.vector)
    }
}

/// An LRU of vectors bounded by the bytes its entries take.
struct Lru {
    entries: LruCache<Key, Entry>,
    bytes: usize,
    budget: usize,
}

impl Lru {
    fn new(budget: usize) -> Lru {
        // Unbounded in count: the byte budget is what bounds it (see `insert`).
        Lru {
            entries: LruCache::unbounded(),
            bytes: 0,
            budget,
        }
    }

    /// The entry for `key`, now the most recently used.
    fn get(&mut self, key: &Key) -> Option<(Vec<f32>, usize)> {
        self.entries.get(key).map(|e| (e.vector.to_vec(), e.tokens))
    }

    /// Stores an entry, evicting the least recently used ones until the budget holds. An entry
    /// larger than the whole budget is not stored (it would evict everything and then itself).
    fn insert(&mut self, key: Key, entry: Entry) {
        let size = entry.bytes();
        if size > self.budget {
            return;
        }
        if let Some(old) = self.entries.put(key, entry) {
            self.bytes -= old.bytes();
        }
        self.bytes += size;
        while self.bytes > self.budget {
            match self.entries.pop_lru() {
                Some((_, evicted)) => self.bytes -= evicted.bytes(),
                None => break,
            }
        }
    }
}

/// An [`Embedder`] that answers repeated texts from memory and asks `inner` for the others.
pub struct CachedEmbedder<E> {
    inner: E,
    /// Held only to look up and store, never while the model runs, so concurrent batches (from
    /// blocking threads) wait for each other's lookups but not for each other's forward passes.
    cache: Mutex<Lru>,
}

impl<E: Embedder> CachedEmbedder<E> {
    /// Wraps `inner` with a cache of at most `budget_bytes` (0 stores nothing: every text is a
    /// miss).
    pub fn new(inner: E, budget_bytes: usize) -> Self {
        CachedEmbedder {
            inner,
            cache: Mutex::new(Lru::new(budget_bytes)),
        }
    }

    /// Bytes the cached entries take now (at most the budget).
    pub fn cached_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Texts cached now.
    pub fn cached_texts(&self) -> usize {
        self.lock().entries.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        // No code that can panic runs under the lock, so a poisoned lock still guards a
        // consistent cache.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn key(&self, text: &str) -> Key {
        let model = self.inner.model_id().as_bytes();
        let mut hash = Sha256::new();
        // Length-prefixed, so no (model id, text) pair can be confused with another.
        hash.update((model.len() as u64).to_le_bytes());
        hash.update(model);
        hash.update(text.as_bytes());
        hash.finalize().into()
    }
}

impl<E: Embedder> Embedder for CachedEmbedder<E> {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_counted(texts).map(|batch| batch.vectors)
    }

    fn token_count(&self, text: &str) -> usize {
        let cached = self.lock().entries.peek(&self.key(text)).map(|e| e.tokens);
        cached.unwrap_or_else(|| self.inner.token_count(text))
    }

    /// Looks every text up, embeds the misses in one batch of the inner model, stores them.
    /// A text given twice in one batch is looked up (and, if missing, embedded) twice; callers
    /// deduplicate their batch first (see `provider::embedded::vectors`).
    fn embed_counted(&self, texts: &[&str]) -> Result<Embedded, EmbedError> {
        let keys: Vec<Key> = texts.iter().map(|t| self.key(t)).collect();
        let mut found: Vec<Option<(Vec<f32>, usize)>> = {
            let mut cache = self.lock();
            keys.iter().map(|k| cache.get(k)).collect()
        };
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| found[i].is_none()).collect();
        let cache_hits = texts.len() - missing.len();
        if !missing.is_empty() {
            let batch: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
            let vectors = self.inner.embed(&batch)?;
            if vectors.len() != batch.len() {
                return Err(EmbedError::Inference(format!(
                    "the model returned {} vectors for {} texts",
                    vectors.len(),
                    batch.len()
                )));
            }
            let tokens: Vec<usize> = batch.iter().map(|t| self.inner.token_count(t)).collect();
            let mut cache = self.lock();
            for ((&i, vector), tokens) in missing.iter().zip(vectors).zip(tokens) {
                cache.insert(
                    keys[i],
                    Entry {
                        vector: vector.clone().into_boxed_slice(),
                        tokens,
                    },
                );
                found[i] = Some((vector, tokens));
            }
        }
        let (vectors, token_counts) = found.into_iter().flatten().unzip();
        Ok(Embedded {
            vectors,
            token_counts,
            cache_hits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::HashingEmbedder;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A hashing embedder that counts the texts it embeds and tokenizes, under a chosen model id.
    struct Counting {
        inner: HashingEmbedder,
        id: &'static str,
        embedded: AtomicUsize,
        tokenized: AtomicUsize,
    }

    impl Counting {
        fn new(id: &'static str, dims: usize) -> Counting {
            Counting {
                inner: HashingEmbedder::new(dims),
                id,
                embedded: AtomicUsize::new(0),
                tokenized: AtomicUsize::new(0),
            }
        }
    }

    impl Embedder for Counting {
        fn model_id(&self) -> &str {
            self.id
        }
        fn dimensions(&self) -> usize {
            self.inner.dimensions()
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.embedded.fetch_add(texts.len(), Ordering::SeqCst);
            self.inner.embed(texts)
        }
        fn token_count(&self, text: &str) -> usize {
            self.tokenized.fetch_add(1, Ordering::SeqCst);
            self.inner.token_count(text)
        }
    }

    /// Bytes one cached vector of `dims` floats takes.
    fn entry_bytes(dims: usize) -> usize {
        ENTRY_OVERHEAD_BYTES + dims * 4
    }

    #[test]
    fn a_repeated_text_is_a_hit_with_the_same_vector_and_tokens_and_no_model_call() {
        let cached = CachedEmbedder::new(Counting::new("m", 16), 1 << 20);
        let first = cached.embed_counted(&["a b c", "d e"]).expect("embeds");
        assert_eq!(first.cache_hits, 0);
        let second = cached
            .embed_counted(&["d e", "a b c", "f"])
            .expect("embeds");
        assert_eq!(second.cache_hits, 2);
        assert_eq!(second.vectors[0], first.vectors[1]);
        assert_eq!(second.vectors[1], first.vectors[0]);
        assert_eq!(
            second.token_counts[..2],
            [first.token_counts[1], first.token_counts[0]]
        );
        assert_eq!(
            cached.inner.embedded.load(Ordering::SeqCst),
            3,
            "only f was new"
        );
        assert_eq!(
            cached.inner.tokenized.load(Ordering::SeqCst),
            3,
            "hits are not re-tokenized"
        );
        assert_eq!(cached.token_count("a b c"), first.token_counts[0]);
        assert_eq!(cached.inner.tokenized.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn answers_equal_the_inner_model_and_keep_the_batch_order() {
        let cached = CachedEmbedder::new(Counting::new("m", 32), 1 << 20);
        let plain = HashingEmbedder::new(32);
        let texts = ["one two", "three", "four five six"];
        cached.embed(&texts[1..2]).expect("warms one");
        assert_eq!(
            cached.embed(&texts).expect("embeds"),
            plain.embed(&texts).expect("embeds")
        );
    }

    #[test]
    fn the_byte_budget_holds_and_the_least_recently_used_text_goes_first() {
        let dims = 8;
        let cached = CachedEmbedder::new(Counting::new("m", dims), 3 * entry_bytes(dims));
        cached.embed(&["a", "b", "c"]).expect("embeds");
        assert_eq!(cached.cached_texts(), 3);
        assert_eq!(cached.cached_bytes(), 3 * entry_bytes(dims));
        // Touch `a`, so `b` is now the least recently used.
        assert_eq!(cached.embed_counted(&["a"]).expect("embeds").cache_hits, 1);
        cached.embed(&["d"]).expect("embeds");
        assert_eq!(cached.cached_texts(), 3);
        assert!(cached.cached_bytes() <= 3 * entry_bytes(dims));
        let after = cached.embed_counted(&["a", "c", "d"]).expect("embeds");
        assert_eq!(after.cache_hits, 3, "a, c and d stayed");
        assert_eq!(
            cached.embed_counted(&["b"]).expect("embeds").cache_hits,
            0,
            "b was evicted"
        );
    }

    #[test]
    fn a_budget_smaller_than_one_entry_caches_nothing() {
        let dims = 8;
        let cached = CachedEmbedder::new(Counting::new("m", dims), entry_bytes(dims) - 1);
        cached.embed(&["a"]).expect("embeds");
        assert_eq!(cached.embed_counted(&["a"]).expect("embeds").cache_hits, 0);
        assert_eq!(cached.cached_bytes(), 0);
    }

    #[test]
    fn a_zero_budget_disables_the_cache() {
        let cached = CachedEmbedder::new(Counting::new("m", 8), 0);
        for _ in 0..3 {
            let batch = cached.embed_counted(&["a", "b"]).expect("embeds");
            assert_eq!(batch.cache_hits, 0);
            assert_eq!(batch.vectors.len(), 2);
        }
        assert_eq!(cached.inner.embedded.load(Ordering::SeqCst), 6);
        assert_eq!(cached.cached_texts(), 0);
    }

    #[test]
    fn the_same_text_under_another_model_id_is_another_key() {
        let a = CachedEmbedder::new(Counting::new("model-a", 8), 1 << 20);
        let b = CachedEmbedder::new(Counting::new("model-b", 8), 1 << 20);
        assert_ne!(a.key("same text"), b.key("same text"));
        assert_ne!(a.key("same text"), a.key("same text "));
        // The length prefix keeps ("ab", "c") and ("a", "bc") apart.
        let ab = CachedEmbedder::new(Counting::new("ab", 8), 0);
        let a_ = CachedEmbedder::new(Counting::new("a", 8), 0);
        assert_ne!(ab.key("c"), a_.key("bc"));
    }

    #[test]
    fn a_model_error_is_returned_and_caches_nothing() {
        struct Failing;
        impl Embedder for Failing {
            fn model_id(&self) -> &str {
                "failing"
            }
            fn dimensions(&self) -> usize {
                4
            }
            fn embed(&self, _texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
                Err(EmbedError::Inference("boom".to_owned()))
            }
            fn token_count(&self, _text: &str) -> usize {
                1
            }
        }
        let cached = CachedEmbedder::new(Failing, 1 << 20);
        assert!(cached.embed_counted(&["a"]).is_err());
        assert_eq!(cached.cached_texts(), 0);
    }

    #[test]
    fn concurrent_batches_share_one_cache() {
        let cached = std::sync::Arc::new(CachedEmbedder::new(Counting::new("m", 8), 1 << 20));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let cached = cached.clone();
                std::thread::spawn(move || cached.embed(&["x", "y"]).expect("embeds"))
            })
            .collect();
        let answers: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        assert!(answers.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(cached.cached_texts(), 2);
    }
}
