//! Building the wordpiece tokenizer from `tokenizer.json` quickly enough for a cold start.
//!
//! `tokenizers`' own loader reads the whole file into `serde_json::Value`s (a sorted map of
//! 30,522 vocabulary entries), then into serde's buffered content, before building anything:
//! about 17 ms warm and 35 ms in a fresh process on this machine, a third of the model's load.
//! The file of a BERT checkpoint describes a fixed pipeline (BERT normaliser, BERT
//! pre-tokeniser, `[CLS] … [SEP]` template, WordPiece), so [`load`] reads the vocabulary straight
//! into the model's map, checks that every other part of the file is exactly that pipeline with
//! the parameters it reads, and builds it from `tokenizers`' own parts (about 8 ms). A file that
//! describes anything else goes through the generic loader unchanged: the fast path never guesses.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

/// The tokenizer `bytes` (a `tokenizer.json`) describes: built from its parts when it is the
/// BERT pipeline, else by `tokenizers`' generic loader. The error is the generic loader's.
pub(super) fn load(bytes: &[u8]) -> tokenizers::Result<Tokenizer> {
    match bert_pipeline(bytes) {
        Some(tokenizer) => Ok(tokenizer),
        None => Tokenizer::from_bytes(bytes),
    }
}

/// The parts of the file this path reads; the small ones stay JSON values to be compared with
/// the one shape it accepts.
#[derive(Deserialize)]
struct File {
    model: Model,
    normalizer: Value,
    pre_tokenizer: Value,
    post_processor: Value,
    #[serde(default)]
    added_tokens: Vec<Added>,
}

#[derive(Deserialize)]
struct Model {
    #[serde(rename = "type")]
    kind: String,
    unk_token: String,
    continuing_subword_prefix: String,
    max_input_chars_per_word: usize,
    vocab: ahash::AHashMap<String, u32>,
}

#[derive(Deserialize)]
struct Added {
    id: u32,
    content: String,
    special: bool,
    single_word: bool,
    lstrip: bool,
    rstrip: bool,
    normalized: bool,
}

/// `None` whenever the file is not exactly the BERT pipeline (or does not parse): the caller
/// then uses the generic loader, which reports a broken file in its own words.
pub(super) fn bert_pipeline(bytes: &[u8]) -> Option<Tokenizer> {
    let file: File = serde_json::from_slice(bytes).ok()?;
    if file.model.kind != "WordPiece"
        || file.pre_tokenizer != serde_json::json!({"type": "BertPreTokenizer"})
    {
        return None;
    }
    let normalizer = bert_normalizer(&file.normalizer)?;
    let (cls, sep) = cls_sep_template(&file.post_processor)?;
    // Added tokens must be vocabulary entries with the same id: that is what the generic loader
    // would make of them too, and what the checks after loading rely on.
    if file
        .added_tokens
        .iter()
        .any(|a| file.model.vocab.get(&a.content) != Some(&a.id))
    {
        return None;
    }
    if file.model.vocab.get(&cls.0) != Some(&cls.1) || file.model.vocab.get(&sep.0) != Some(&sep.1)
    {
        return None;
    }
    let added: Vec<AddedToken> = file
        .added_tokens
        .iter()
        .map(|a| {
            AddedToken::from(a.content.clone(), a.special)
                .single_word(a.single_word)
                .lstrip(a.lstrip)
                .rstrip(a.rstrip)
                .normalized(a.normalized)
        })
        .collect();
    let model = WordPiece::builder()
        .vocab(file.model.vocab)
        .unk_token(file.model.unk_token)
        .continuing_subword_prefix(file.model.continuing_subword_prefix)
        .max_input_chars_per_word(file.model.max_input_chars_per_word)
        .build()
        .ok()?;
    let template = TemplateProcessing::builder()
        .try_single(format!("{} $A {}", cls.0, sep.0))
        .ok()?
        .special_tokens(vec![cls, sep])
        .build()
        .ok()?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_normalizer(Some(normalizer)).ok()?;
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    tokenizer.with_post_processor(Some(template));
    let (special, plain): (Vec<AddedToken>, Vec<AddedToken>) =
        added.into_iter().partition(|a| a.special);
    // The counts returned are of tokens new to the vocabulary: none here, all are entries of it.
    let _ = tokenizer.add_special_tokens(special);
    let _ = tokenizer.add_tokens(plain);
    Some(tokenizer)
}

/// `{"type": "BertNormalizer", "clean_text", "handle_chinese_chars", "strip_accents",
/// "lowercase"}` and nothing else.
fn bert_normalizer(v: &Value) -> Option<BertNormalizer> {
    let o = v.as_object()?;
    let known = [
        "type",
        "clean_text",
        "handle_chinese_chars",
        "strip_accents",
        "lowercase",
    ];
    if o.get("type")? != "BertNormalizer" || o.keys().any(|k| !known.contains(&k.as_str())) {
        return None;
    }
    let flag = |k: &str| o.get(k)?.as_bool();
    let strip_accents = match o.get("strip_accents") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return None,
    };
    Some(BertNormalizer::new(
        flag("clean_text")?,
        flag("handle_chinese_chars")?,
        strip_accents,
        flag("lowercase")?,
    ))
}

/// A template whose single-sequence form is `[CLS] $A [SEP]` (type ids 0), with the two special
/// tokens' ids: `(cls, sep)`. The pair form is not read: this product never encodes pairs.
fn cls_sep_template(v: &Value) -> Option<((String, u32), (String, u32))> {
    #[derive(Deserialize)]
    struct Special {
        ids: Vec<u32>,
        tokens: Vec<String>,
    }
    let o = v.as_object()?;
    if o.get("type")? != "TemplateProcessing" {
        return None;
    }
    let single = o.get("single")?.as_array()?;
    let special_at = |i: usize| -> Option<&str> {
        let s = single.get(i)?.get("SpecialToken")?;
        (s.get("type_id")? == 0).then_some(s.get("id")?.as_str()?)
    };
    let sequence_a = single.get(1)?.get("Sequence")?;
    if single.len() != 3 || sequence_a.get("id")? != "A" || sequence_a.get("type_id")? != 0 {
        return None;
    }
    let (cls, sep) = (special_at(0)?, special_at(2)?);
    let specials: HashMap<String, Special> =
        serde_json::from_value(o.get("special_tokens")?.clone()).ok()?;
    let id_of = |name: &str| -> Option<u32> {
        let s = specials.get(name)?;
        match (s.ids.as_slice(), s.tokens.as_slice()) {
            ([id], [token]) if token == name => Some(*id),
            _ => None,
        }
    };
    Some(((cls.to_owned(), id_of(cls)?), (sep.to_owned(), id_of(sep)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small BERT-style tokenizer file, in the layout `tokenizers` writes.
    fn file(normalizer: Value) -> Vec<u8> {
        let vocab: serde_json::Map<String, Value> = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "un",
            "##believ", "##able", ",", "!", "東", "京", "e",
        ]
        .iter()
        .enumerate()
        .map(|(i, t)| ((*t).to_owned(), Value::from(i)))
        .collect();
        let added = |id: u32, content: &str| {
            serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true})
        };
        serde_json::to_vec(&serde_json::json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": [added(0, "[PAD]"), added(1, "[UNK]"), added(2, "[CLS]"),
                added(3, "[SEP]"), added(4, "[MASK]")],
            "normalizer": normalizer,
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                    {"Sequence": {"id": "B", "type_id": 1}},
                    {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                "special_tokens": {
                    "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                    "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100, "vocab": vocab}
        }))
        .expect("json")
    }

    fn bert_normalizer_json() -> Value {
        serde_json::json!({"type": "BertNormalizer", "clean_text": true,
            "handle_chinese_chars": true, "strip_accents": null, "lowercase": true})
    }

    const TEXTS: &[&str] = &[
        "Hello, worlds!",
        "UNBELIEVABLE hello\tworld",
        "東京 hello",
        "héllo [MASK] world [SEP]",
        "",
        "   ",
        "xyz unknown",
    ];

    #[test]
    fn the_fast_path_encodes_exactly_as_the_generic_loader() {
        let bytes = file(bert_normalizer_json());
        let fast = bert_pipeline(&bytes).expect("a BERT pipeline takes the fast path");
        let generic = Tokenizer::from_bytes(&bytes).expect("generic");
        for text in TEXTS {
            let (a, b) = (
                fast.encode_fast(*text, true).expect("fast"),
                generic.encode_fast(*text, true).expect("generic"),
            );
            assert_eq!(a.get_ids(), b.get_ids(), "{text:?}");
            assert_eq!(a.get_type_ids(), b.get_type_ids(), "{text:?}");
        }
        assert_eq!(fast.get_vocab_size(true), generic.get_vocab_size(true));
    }

    #[test]
    fn anything_else_goes_to_the_generic_loader() {
        // A normaliser this path does not build, an extra normaliser option, a broken file.
        let other = serde_json::json!({"type": "NFKC"});
        assert!(bert_pipeline(&file(other)).is_none());
        let mut extra = bert_normalizer_json();
        extra["something_new"] = Value::Bool(true);
        assert!(bert_pipeline(&file(extra)).is_none());
        assert!(bert_pipeline(b"{not json").is_none());
        // …and the generic loader still answers for them (or reports the broken file).
        assert!(load(&file(serde_json::json!({"type": "NFKC"}))).is_ok());
        assert!(load(b"{not json").is_err());
    }

    #[test]
    fn an_added_token_off_the_vocabulary_is_not_taken_on_trust() {
        let mut v: Value = serde_json::from_slice(&file(bert_normalizer_json())).expect("json");
        v["added_tokens"][0]["id"] = Value::from(99);
        assert!(bert_pipeline(&serde_json::to_vec(&v).expect("json")).is_none());
    }
}
