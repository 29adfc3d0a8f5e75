//! Loaders for the public evaluation data in `shared/eval/` (see its README for sources and
//! licences). Formats are read as documented there; nothing is filtered or edited.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// RFC 4180 CSV: quoted fields may hold commas, newlines and doubled quotes.
pub fn csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

pub struct Labelled {
    pub text: String,
    pub label: String,
}

/// AG News test: `label,title,description`, label 1–4 → World, Sports, Business, Sci/Tech. The
/// message is the title and description, as a news reader sees them.
pub fn ag_news(dir: &Path) -> anyhow::Result<(Vec<String>, Vec<Labelled>)> {
    let names = ["World", "Sports", "Business", "Sci/Tech"];
    let rows = csv(&read(&dir.join("classify/ag_news/test.csv"))?);
    let mut out = Vec::new();
    for row in rows.iter().skip(1) {
        if row.len() < 3 {
            continue;
        }
        let i: usize = row[0].trim().parse().context("AG News label")?;
        let Some(name) = i.checked_sub(1).and_then(|i| names.get(i)) else {
            bail!("AG News label {i} out of range");
        };
        // The corpus escapes newlines as a backslash.
        let text = format!("{}. {}", row[1].trim(), row[2].replace('\\', " ").trim());
        out.push(Labelled {
            text,
            label: (*name).to_owned(),
        });
    }
    Ok((names.iter().map(|s| (*s).to_owned()).collect(), out))
}

/// BANKING77 test: `text,category`, with the 77 category names of `categories.json`.
pub fn banking77(dir: &Path) -> anyhow::Result<(Vec<String>, Vec<Labelled>)> {
    let names: Vec<String> =
        serde_json::from_str(&read(&dir.join("classify/banking77/categories.json"))?)?;
    let rows = csv(&read(&dir.join("classify/banking77/test.csv"))?);
    let out = rows
        .iter()
        .skip(1)
        .filter(|r| r.len() >= 2)
        .map(|r| Labelled {
            text: r[0].clone(),
            label: r[1].clone(),
        })
        .collect();
    Ok((names, out))
}

pub struct SciFact {
    /// (id, text) with the title as the first sentence.
    pub corpus: Vec<(String, String)>,
    pub queries: HashMap<String, String>,
    pub test: HashMap<String, HashMap<String, u32>>,
    pub train: HashMap<String, HashMap<String, u32>>,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    text: String,
}

fn qrels(text: &str) -> HashMap<String, HashMap<String, u32>> {
    let mut out: HashMap<String, HashMap<String, u32>> = HashMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() >= 3
            && let Ok(score) = cols[2].trim().parse::<u32>()
        {
            out.entry(cols[0].to_owned())
                .or_default()
                .insert(cols[1].to_owned(), score);
        }
    }
    out
}

pub fn scifact(dir: &Path) -> anyhow::Result<SciFact> {
    let base = dir.join("rerank/scifact");
    let mut corpus = Vec::new();
    for line in read(&base.join("corpus.jsonl"))?.lines() {
        let d: Doc = serde_json::from_str(line).context("corpus.jsonl")?;
        let title = d.title.trim();
        let text = if title.is_empty() {
            d.text
        } else if title.ends_with(['.', '?', '!']) {
            format!("{title} {}", d.text)
        } else {
            format!("{title}. {}", d.text)
        };
        corpus.push((d.id, text));
    }
    let mut queries = HashMap::new();
    for line in read(&base.join("queries.jsonl"))?.lines() {
        let d: Doc = serde_json::from_str(line).context("queries.jsonl")?;
        queries.insert(d.id, d.text);
    }
    Ok(SciFact {
        corpus,
        queries,
        test: qrels(&read(&base.join("qrels/test.beir.tsv"))?),
        train: qrels(&read(&base.join("qrels/train.tsv"))?),
    })
}

pub struct Article {
    pub article: String,
    pub reference: String,
}

#[derive(Deserialize)]
struct ArticleRow {
    article: String,
    reference: String,
}

pub fn articles(dir: &Path, file: &str) -> anyhow::Result<Vec<Article>> {
    read(&dir.join("summarize").join(file))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let r: ArticleRow = serde_json::from_str(l).with_context(|| file.to_owned())?;
            Ok(Article {
                article: r.article,
                reference: r.reference,
            })
        })
        .collect()
}

pub struct Receipt {
    pub text: String,
    pub fields: HashMap<String, String>,
}

#[derive(Deserialize)]
struct OcrLine {
    text: String,
}

#[derive(Deserialize)]
struct ReceiptRow {
    fields: HashMap<String, String>,
    ocr: Vec<OcrLine>,
}

/// SROIE task 3: the OCR lines joined by newlines, as a caller would send a scanned receipt.
pub fn sroie(dir: &Path) -> anyhow::Result<Vec<Receipt>> {
    read(&dir.join("extract/sroie_task3_test.jsonl"))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let r: ReceiptRow = serde_json::from_str(l).context("sroie")?;
            Ok(Receipt {
                text: r
                    .ocr
                    .iter()
                    .map(|o| o.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                fields: r.fields,
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct LabelledRow {
    text: String,
    label: String,
}

/// A `text,label` jsonl sample (TweetEval sentiment, SMS spam), with the file's label names
/// renamed to the names a caller would send (`ham` → `not_spam`); the label list keeps the order
/// given.
pub fn labelled_jsonl(
    dir: &Path,
    file: &str,
    names: &[(&str, &str)],
) -> anyhow::Result<(Vec<String>, Vec<Labelled>)> {
    let rows = read(&dir.join(file))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let r: LabelledRow = serde_json::from_str(l).with_context(|| file.to_owned())?;
            let Some((_, name)) = names.iter().find(|(raw, _)| *raw == r.label) else {
                bail!("{file}: unknown label {}", r.label);
            };
            Ok(Labelled {
                text: r.text,
                label: (*name).to_owned(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((names.iter().map(|(_, n)| (*n).to_owned()).collect(), rows))
}

/// A text with gold strings per field (several allowed, empty = the field is absent).
pub struct Annotated {
    pub text: String,
    pub fields: HashMap<String, Vec<String>>,
}

/// CoNLL-2003 sentences (`PER`, `ORG`, `LOC`) or CMU seminar e-mails (`speaker`, `location`):
/// `file`'s gold columns renamed to the request's field names by `columns`.
pub fn annotated_jsonl(
    dir: &Path,
    file: &str,
    columns: &[(&str, &str)],
) -> anyhow::Result<Vec<Annotated>> {
    read(&dir.join(file))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut row: HashMap<String, serde_json::Value> =
                serde_json::from_str(l).with_context(|| file.to_owned())?;
            let text = match row.remove("text") {
                Some(serde_json::Value::String(t)) => t,
                _ => bail!("{file}: a row without text"),
            };
            let mut fields = HashMap::new();
            for (column, field) in columns {
                let gold: Vec<String> = match row.remove(*column) {
                    Some(v) => {
                        serde_json::from_value(v).with_context(|| format!("{file}: {column}"))?
                    }
                    None => Vec::new(),
                };
                fields.insert((*field).to_owned(), gold);
            }
            Ok(Annotated { text, fields })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::csv;

    #[test]
    fn csv_handles_quotes_commas_and_newlines() {
        let rows = csv("a,b\n1,\"x, \"\"y\"\"\nz\"\n");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], vec!["1".to_owned(), "x, \"y\"\nz".to_owned()]);
    }
}
