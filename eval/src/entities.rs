//! Free-text field extraction on the annotated sets: people, organisations and places in
//! CoNLL-2003 news sentences, speaker and location in the CMU seminar e-mails. Each text is one
//! `/v1/extract` request whose fields are declared the way a caller would (a name and a one-line
//! description); nothing about the sets' items shapes the request. The project's own news
//! sentences (`eval/data/own_entities.jsonl`) are asked the CoNLL-2003 fields: they are where
//! name rules may be tried, since the test sets are only reported.

use shared::contract::extract::{ExtractRequest, FieldSpec, FieldType, FieldValue};
use shared::intents;
use shared::provider::Provider;

use crate::data::Annotated;
use crate::metrics::Prf;

/// A set of annotated texts and the fields asked of each.
pub struct EntitySet {
    pub name: &'static str,
    pub file: &'static str,
    /// The file is the project's own (under `eval/data/`), not one of the evaluation sets.
    pub own: bool,
    /// (gold column in the file, field name in the request, description).
    pub fields: &'static [(&'static str, &'static str, &'static str)],
}

pub const CONLL: EntitySet = EntitySet {
    name: "CoNLL-2003 test sentences",
    file: "extract/conll2003_entities300.jsonl",
    own: false,
    fields: CONLL_FIELDS,
};

/// News sentences written for the project, annotated as CoNLL-2003 is (people, organisations,
/// places; national teams and sports venues are places).
pub const OWN_NEWS: EntitySet = EntitySet {
    name: "own news sentences (written for the project)",
    file: "own_entities.jsonl",
    own: true,
    fields: CONLL_FIELDS,
};

const CONLL_FIELDS: &[(&str, &str, &str)] = &[
    ("PER", "person", "name of a person mentioned in the text"),
    (
        "ORG",
        "organization",
        "name of a company, team, party or other organisation",
    ),
    (
        "LOC",
        "location",
        "name of a place: a city, country, region or landmark",
    ),
];

pub const SEMINARS: EntitySet = EntitySet {
    name: "CMU seminar e-mails",
    file: "extract/seminar_emails100.jsonl",
    own: false,
    fields: &[
        (
            "speaker",
            "speaker",
            "name of the person who gives the talk",
        ),
        (
            "location",
            "location",
            "room and building where the seminar takes place",
        ),
    ],
};

impl EntitySet {
    /// The folder `file` is in: the evaluation data, or the project's own under `eval/data/`.
    pub fn dir(&self, data: &std::path::Path) -> std::path::PathBuf {
        if self.own {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
        } else {
            data.to_path_buf()
        }
    }

    pub fn columns(&self) -> Vec<(&'static str, &'static str)> {
        self.fields.iter().map(|(c, f, _)| (*c, *f)).collect()
    }

    fn specs(&self) -> Vec<FieldSpec> {
        self.fields
            .iter()
            .map(|(_, name, description)| FieldSpec {
                name: (*name).to_owned(),
                kind: FieldType::String,
                description: Some((*description).to_owned()),
                values: None,
            })
            .collect()
    }
}

/// Case and whitespace folded, surrounding punctuation dropped: the README's exact match.
fn norm(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// What extract answered for each field of `item`: `None` for `null`, the text otherwise
/// (a non-text value as its JSON).
async fn answer(
    provider: &dyn Provider,
    specs: &[FieldSpec],
    item: &Annotated,
) -> anyhow::Result<Vec<(String, Option<String>)>> {
    let request = ExtractRequest {
        text: item.text.chars().take(50_000).collect(),
        fields: specs.to_vec(),
    };
    let out = intents::extract::extract(provider, &request, crate::tasks::offline())
        .await
        .map_err(|e| anyhow::anyhow!("extract: {e:?}"))?;
    Ok(specs
        .iter()
        .map(|spec| {
            let value = out
                .result
                .fields
                .iter()
                .find(|f| f.name == spec.name)
                .and_then(|f| f.value.as_ref())
                .map(|v| match v {
                    FieldValue::Text(t) => t.clone(),
                    other => serde_json::to_string(other).unwrap_or_default(),
                });
            (spec.name.clone(), value)
        })
        .collect())
}

/// The item's gold strings for `field`, folded as [`norm`] does; empty when absent.
fn gold_of(item: &Annotated, field: &str) -> Vec<String> {
    item.fields
        .get(field)
        .map(|g| {
            g.iter()
                .map(|s| norm(s))
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Field-level P/R/F1: a text whose gold list is not empty counts once in recall; a value counts
/// in precision, and is correct when it equals one of the gold strings.
pub async fn run(
    provider: &dyn Provider,
    set: &EntitySet,
    items: &[Annotated],
) -> anyhow::Result<Vec<(String, Prf)>> {
    let specs = set.specs();
    let mut counts: Vec<(String, Prf)> = specs
        .iter()
        .map(|s| (s.name.clone(), Prf::default()))
        .collect();
    for item in items {
        let answers = answer(provider, &specs, item).await?;
        for ((name, prf), (_, value)) in counts.iter_mut().zip(&answers) {
            let gold = gold_of(item, name);
            if !gold.is_empty() {
                prf.gold += 1;
            }
            if let Some(v) = value {
                prf.predicted += 1;
                if gold.contains(&norm(v)) {
                    prf.correct += 1;
                }
            }
        }
    }
    Ok(counts)
}

/// Each item's fields where the answer is not one of the gold strings (a wrong value, a miss, or
/// a value where the gold is empty), one line per field: for reading the project's own sets.
pub async fn disagreements(
    provider: &dyn Provider,
    set: &EntitySet,
    items: &[Annotated],
) -> anyhow::Result<Vec<String>> {
    let specs = set.specs();
    let mut out = Vec::new();
    for item in items {
        for (name, value) in answer(provider, &specs, item).await? {
            let gold = gold_of(item, &name);
            let right = match &value {
                Some(v) => gold.contains(&norm(v)),
                None => gold.is_empty(),
            };
            if !right {
                out.push(format!(
                    "{name}: got {value:?}, gold {:?} in {:?}",
                    item.fields.get(&name).cloned().unwrap_or_default(),
                    item.text
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::norm;

    #[test]
    fn matching_ignores_case_spacing_and_outer_punctuation() {
        assert_eq!(norm(" Dr.  Jane\nSmith, "), "dr. jane smith");
        assert_eq!(norm("(Wean Hall 5409)"), "wean hall 5409");
    }
}
