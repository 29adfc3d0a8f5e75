//! Lexical relevance over analysed term lists: Okapi BM25 scoring (with the matched terms kept
//! for human-readable reasons) and L2-normalised TF-IDF sparse vectors with cosine similarity.
//!
//! Both take documents already turned into terms (see [`super::text::Analyzer::terms`]), so the
//! same analysis is applied to documents and queries. Scores are summed in query order, never in
//! hash-map order, so results are bit-for-bit deterministic.

use std::collections::HashMap;

/// Okapi BM25 index over a fixed set of documents.
#[derive(Debug, Clone)]
pub struct Bm25 {
    k1: f32,
    b: f32,
    vocab: HashMap<String, u32>,
    /// Per term id: `(doc, term frequency)`, ascending by doc.
    postings: Vec<Vec<(u32, u32)>>,
    doc_len: Vec<u32>,
    avg_len: f32,
}

impl Bm25 {
    /// Index `docs` with the usual defaults `k1 = 1.2`, `b = 0.75`.
    pub fn new(docs: &[Vec<String>]) -> Self {
        Self::with_params(docs, 1.2, 0.75)
    }

    /// Index `docs` with explicit parameters. `k1` is clamped to `>= 0` and `b` to `[0, 1]`;
    /// non-finite values fall back to the defaults.
    pub fn with_params(docs: &[Vec<String>], k1: f32, b: f32) -> Self {
        let k1 = if k1.is_finite() { k1.max(0.0) } else { 1.2 };
        let b = if b.is_finite() {
            b.clamp(0.0, 1.0)
        } else {
            0.75
        };
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut postings: Vec<Vec<(u32, u32)>> = Vec::new();
        let mut doc_len = Vec::with_capacity(docs.len());
        for (d, terms) in docs.iter().enumerate() {
            let d = u32::try_from(d).unwrap_or(u32::MAX);
            doc_len.push(u32::try_from(terms.len()).unwrap_or(u32::MAX));
            for t in terms {
                let id = match vocab.get(t) {
                    Some(&id) => id,
                    None => {
                        let id = u32::try_from(postings.len()).unwrap_or(u32::MAX);
                        vocab.insert(t.clone(), id);
                        postings.push(Vec::new());
                        id
                    }
                };
                let list = &mut postings[id as usize];
                match list.last_mut() {
                    Some((last_doc, tf)) if *last_doc == d => *tf += 1,
                    _ => list.push((d, 1)),
                }
            }
        }
        let total: f64 = doc_len.iter().map(|&l| f64::from(l)).sum();
        let avg_len = if docs.is_empty() {
            0.0
        } else {
            (total / docs.len() as f64) as f32
        };
        Self {
            k1,
            b,
            vocab,
            postings,
            doc_len,
            avg_len,
        }
    }

    /// Number of indexed documents.
    pub fn len(&self) -> usize {
        self.doc_len.len()
    }

    /// Whether no documents were indexed.
    pub fn is_empty(&self) -> bool {
        self.doc_len.is_empty()
    }

    /// Lucene's non-negative idf `ln(1 + (N - df + 0.5) / (df + 0.5))`; unknown terms get the
    /// idf of `df = 0`.
    pub fn idf(&self, term: &str) -> f32 {
        let df = self
            .vocab
            .get(term)
            .map_or(0, |&id| self.postings[id as usize].len());
        self.idf_df(df)
    }

    fn idf_df(&self, df: usize) -> f32 {
        let n = self.len() as f64;
        let df = df as f64;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln() as f32
    }

    fn term_weight(&self, tf: u32, doc: usize) -> f32 {
        let tf = tf as f32;
        let len_norm = if self.avg_len > 0.0 {
            1.0 - self.b + self.b * self.doc_len[doc] as f32 / self.avg_len
        } else {
            1.0
        };
        tf * (self.k1 + 1.0) / (tf + self.k1 * len_norm)
    }

    /// Distinct query terms that exist in the index, in first-occurrence order. A repeated query
    /// term counts once, so pasting a word twice does not double its weight.
    fn query_ids<'q>(&self, query: &'q [String]) -> Vec<(&'q str, u32)> {
        let mut out: Vec<(&str, u32)> = Vec::new();
        for t in query {
            if let Some(&id) = self.vocab.get(t)
                && !out.iter().any(|&(_, seen)| seen == id)
            {
                out.push((t.as_str(), id));
            }
        }
        out
    }

    fn tf(&self, id: u32, doc: usize) -> u32 {
        let list = &self.postings[id as usize];
        let doc = u32::try_from(doc).unwrap_or(u32::MAX);
        list.binary_search_by_key(&doc, |&(d, _)| d)
            .map_or(0, |i| list[i].1)
    }

    /// BM25 score of every document for `query` (each `>= 0`), indexed like the input docs.
    pub fn score(&self, query: &[String]) -> Vec<f32> {
        let mut scores = vec![0.0_f32; self.len()];
        for (_, id) in self.query_ids(query) {
            let list = &self.postings[id as usize];
            let idf = self.idf_df(list.len());
            for &(d, tf) in list {
                scores[d as usize] += idf * self.term_weight(tf, d as usize);
            }
        }
        scores
    }

    /// BM25 score of one document; `0.0` for an out-of-range `doc`.
    pub fn score_doc(&self, query: &[String], doc: usize) -> f32 {
        if doc >= self.len() {
            return 0.0;
        }
        self.query_ids(query)
            .into_iter()
            .map(|(_, id)| {
                let tf = self.tf(id, doc);
                if tf == 0 {
                    0.0
                } else {
                    self.idf_df(self.postings[id as usize].len()) * self.term_weight(tf, doc)
                }
            })
            .sum()
    }

    /// Query terms present in `doc`, deduplicated, in query order (for "matched: x, y" reasons).
    pub fn matched_terms(&self, query: &[String], doc: usize) -> Vec<String> {
        if doc >= self.len() {
            return Vec::new();
        }
        self.query_ids(query)
            .into_iter()
            .filter(|&(_, id)| self.tf(id, doc) > 0)
            .map(|(t, _)| t.to_string())
            .collect()
    }
}

/// A sparse, L2-normalised term-weight vector: `(term id, weight)` sorted by id, no zeros.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVec {
    entries: Vec<(u32, f32)>,
}

impl SparseVec {
    /// The `(term id, weight)` pairs, ascending by id.
    pub fn entries(&self) -> &[(u32, f32)] {
        &self.entries
    }

    /// Whether the vector has no non-zero weight (e.g. a text made only of stop words).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Builds a normalised vector from arbitrary `(id, weight)` pairs: duplicates are summed,
    /// non-finite and non-positive results dropped.
    pub fn from_weights(mut weights: Vec<(u32, f32)>) -> Self {
        weights.sort_by_key(|&(id, _)| id);
        let mut entries: Vec<(u32, f32)> = Vec::with_capacity(weights.len());
        for (id, w) in weights {
            if !w.is_finite() {
                continue;
            }
            match entries.last_mut() {
                Some((last, acc)) if *last == id => *acc += w,
                _ => entries.push((id, w)),
            }
        }
        entries.retain(|&(_, w)| w.is_finite() && w > 0.0);
        let norm = entries
            .iter()
            .map(|&(_, w)| f64::from(w) * f64::from(w))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 && norm.is_finite() {
            for e in &mut entries {
                e.1 = (f64::from(e.1) / norm) as f32;
            }
        } else {
            entries.clear();
        }
        Self { entries }
    }
}

/// Cosine similarity of two sparse vectors, in `[0, 1]`; `0.0` when either is empty.
pub fn cosine(a: &SparseVec, b: &SparseVec) -> f32 {
    let (mut i, mut j) = (0, 0);
    let (mut dot, mut na, mut nb) = (0.0_f64, 0.0_f64, 0.0_f64);
    for &(_, w) in &a.entries {
        na += f64::from(w) * f64::from(w);
    }
    for &(_, w) in &b.entries {
        nb += f64::from(w) * f64::from(w);
    }
    while i < a.entries.len() && j < b.entries.len() {
        let (ia, wa) = a.entries[i];
        let (ib, wb) = b.entries[j];
        match ia.cmp(&ib) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                dot += f64::from(wa) * f64::from(wb);
                i += 1;
                j += 1;
            }
        }
    }
    if na <= 0.0 || nb <= 0.0 {
        return 0.0;
    }
    // Entries are already unit length; dividing again only guards hand-built vectors.
    ((dot / (na.sqrt() * nb.sqrt())) as f32).clamp(0.0, 1.0)
}

/// TF-IDF model fitted on a corpus: sublinear tf (`1 + ln tf`) times smoothed idf
/// (`ln((1 + N) / (1 + df)) + 1`, always positive), L2-normalised.
///
/// Terms unseen at fit time are not ignored: they get the idf of `df = 0` and a stable id above
/// the vocabulary (an FNV-1a hash), so two query-time texts sharing a new word still overlap,
/// while they can never match a fitted document on it. Such ids are consistent across calls and
/// processes; two distinct unknown words colliding is astronomically unlikely and only nudges a
/// similarity.
#[derive(Debug, Clone)]
pub struct TfIdf {
    vocab: HashMap<String, u32>,
    idf: Vec<f32>,
    unknown_idf: f32,
}

impl TfIdf {
    /// Fits vocabulary and document frequencies on `docs`.
    pub fn fit(docs: &[Vec<String>]) -> Self {
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        let mut last_doc: Vec<usize> = Vec::new();
        for (d, terms) in docs.iter().enumerate() {
            for t in terms {
                let id = match vocab.get(t) {
                    Some(&id) => id as usize,
                    None => {
                        let id = df.len();
                        vocab.insert(t.clone(), u32::try_from(id).unwrap_or(u32::MAX));
                        df.push(0);
                        last_doc.push(usize::MAX);
                        id
                    }
                };
                if last_doc[id] != d {
                    last_doc[id] = d;
                    df[id] += 1;
                }
            }
        }
        let n = docs.len() as f64;
        let idf_of = |df: f64| (((1.0 + n) / (1.0 + df)).ln() + 1.0) as f32;
        Self {
            vocab,
            idf: df.iter().map(|&d| idf_of(f64::from(d))).collect(),
            unknown_idf: idf_of(0.0),
        }
    }

    /// Number of distinct terms seen at fit time.
    pub fn vocabulary_len(&self) -> usize {
        self.idf.len()
    }

    /// The idf used for `term` (the `df = 0` value for unseen terms).
    pub fn idf(&self, term: &str) -> f32 {
        self.vocab
            .get(term)
            .map_or(self.unknown_idf, |&id| self.idf[id as usize])
    }

    fn term_id(&self, term: &str) -> u32 {
        if let Some(&id) = self.vocab.get(term) {
            return id;
        }
        let base = u32::try_from(self.idf.len()).unwrap_or(u32::MAX);
        let span = u32::MAX - base;
        if span == 0 {
            return u32::MAX;
        }
        base + (fnv1a(term) % u64::from(span)) as u32
    }

    /// The L2-normalised TF-IDF vector of a term list.
    pub fn vector(&self, terms: &[String]) -> SparseVec {
        let mut counts: HashMap<&str, u32> = HashMap::new();
        for t in terms {
            *counts.entry(t.as_str()).or_insert(0) += 1;
        }
        let weights = counts
            .into_iter()
            .map(|(t, tf)| {
                let w = (1.0 + (tf as f32).ln()) * self.idf(t);
                (self.term_id(t), w)
            })
            .collect();
        // from_weights sorts by id, which removes the hash-map iteration order.
        SparseVec::from_weights(weights)
    }
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::super::text::Analyzer;
    use super::*;

    fn corpus() -> (Analyzer, Vec<Vec<String>>) {
        let a = Analyzer::english();
        let docs = [
            "Refund requested for a damaged laptop charger delivered last week.",
            "How do I reset my password? The login page keeps rejecting it.",
            "The invoice total is wrong: I was charged twice for the same order.",
            "Shipping was fast and the packaging was great.",
        ]
        .iter()
        .map(|d| a.terms(d))
        .collect();
        (a, docs)
    }

    #[test]
    fn bm25_ranks_matching_doc_first() {
        let (a, docs) = corpus();
        let bm = Bm25::new(&docs);
        let q = a.terms("charged twice on my invoice");
        let s = bm.score(&q);
        assert_eq!(s.len(), 4);
        assert!(s.iter().all(|&x| x >= 0.0));
        let best = (0..4)
            .max_by(|&i, &j| s[i].total_cmp(&s[j]))
            .expect("non-empty");
        assert_eq!(best, 2);
        assert!(s[2] > 0.0);
        assert_eq!(s[3], 0.0);
        assert!((bm.score_doc(&q, 2) - s[2]).abs() < 1e-6);
        assert_eq!(bm.matched_terms(&q, 2), vec!["charg", "twice", "invoic"]);
        assert!(bm.matched_terms(&q, 3).is_empty());
        assert_eq!(bm.score_doc(&q, 99), 0.0);
    }

    #[test]
    fn bm25_idf_and_duplicates() {
        let docs = vec![
            vec!["a".to_string(), "b".to_string()],
            vec!["a".to_string()],
        ];
        let bm = Bm25::new(&docs);
        // df=2 of N=2 still positive, rarer term higher.
        assert!(bm.idf("a") > 0.0);
        assert!(bm.idf("b") > bm.idf("a"));
        let once = bm.score(&["b".to_string()]);
        let twice = bm.score(&["b".to_string(), "b".to_string()]);
        assert_eq!(once, twice);
        let empty = Bm25::new(&[]);
        assert!(empty.score(&["x".to_string()]).is_empty());
        let blank = Bm25::new(&[vec![], vec![]]);
        assert_eq!(blank.score(&["x".to_string()]), vec![0.0, 0.0]);
    }

    #[test]
    fn tfidf_cosine() {
        let (a, docs) = corpus();
        let model = TfIdf::fit(&docs);
        let vecs: Vec<SparseVec> = docs.iter().map(|d| model.vector(d)).collect();
        let q = model.vector(&a.terms("password reset login problem"));
        let sims: Vec<f32> = vecs.iter().map(|v| cosine(&q, v)).collect();
        assert!(sims[1] > 0.3, "{sims:?}");
        assert!(sims.iter().enumerate().all(|(i, &s)| i == 1 || s == 0.0));
        assert!((cosine(&vecs[0], &vecs[0]) - 1.0).abs() < 1e-5);
        let norm: f32 = q.entries().iter().map(|(_, w)| w * w).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(q.entries().windows(2).all(|w| w[0].0 < w[1].0));
        // Unknown words still overlap between two query-time texts.
        let x = model.vector(&a.terms("zebra giraffe"));
        let y = model.vector(&a.terms("zebra"));
        assert!(cosine(&x, &y) > 0.5);
        assert_eq!(cosine(&x, &SparseVec::default()), 0.0);
    }
}
