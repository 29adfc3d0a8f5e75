//! Free-text field extraction on the annotated sets: people, organisations and places in
//! CoNLL-2003 news sentences, speaker and location in the CMU seminar e-mails. Each text is one
//! `/v1/extract` request whose fields are declared the way a caller would (a name and a one-line
//! description); nothing about the sets' items shapes the request.

use shared::contract::extract::{ExtractRequest, FieldSpec, FieldType, FieldValue};
use shared::intents;
use shared::provider::Provider;

use crate::data::Annotated;
use crate::metrics::Prf;

/// A set of annotated texts and the fields asked of each.
pub struct EntitySet {
    pub name: &'static str,
    pub file: &'static str,
    /// (gold column in the file, field name in the request, description).
    pub fields: &'static [(&'static str, &'static str, &'static str)],
}

pub const CONLL: EntitySet = EntitySet {
    name: "CoNLL-2003 test sentences",
    file: "extract/conll2003_entities300.jsonl",
    fields: &[
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
    ],
};

pub const SEMINARS: EntitySet = EntitySet {
    name: "CMU seminar e-mails",
    file: "extract/seminar_emails100.jsonl",
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
        let request = ExtractRequest {
            text: item.text.chars().take(50_000).collect(),
            fields: specs.clone(),
        };
        let out = intents::extract::extract(provider, &request, crate::tasks::offline())
            .await
            .map_err(|e| anyhow::anyhow!("extract: {e:?}"))?;
        for (name, prf) in counts.iter_mut() {
            let gold: Vec<String> = item
                .fields
                .get(name.as_str())
                .map(|g| {
                    g.iter()
                        .map(|s| norm(s))
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            if !gold.is_empty() {
                prf.gold += 1;
            }
            let value = out
                .result
                .fields
                .iter()
                .find(|f| &f.name == name)
                .and_then(|f| f.value.as_ref());
            if let Some(v) = value {
                prf.predicted += 1;
                if let FieldValue::Text(t) = v
                    && gold.contains(&norm(t))
                {
                    prf.correct += 1;
                }
            }
        }
    }
    Ok(counts)
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
