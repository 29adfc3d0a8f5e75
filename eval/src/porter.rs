//! The original Porter (1980) stemmer, as ROUGE-1.5.5 applies it with `-m`. The workspace's
//! analyzer uses Snowball (Porter 2), which stems some words differently; ROUGE numbers are only
//! comparable to the literature with the original algorithm.

fn is_consonant(w: &[u8], i: usize) -> bool {
    match w[i] {
        b'a' | b'e' | b'i' | b'o' | b'u' => false,
        b'y' => i == 0 || !is_consonant(w, i - 1),
        _ => true,
    }
}

/// m(): the number of VC sequences in `w[..len]`.
fn measure(w: &[u8], len: usize) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < len && is_consonant(w, i) {
        i += 1;
    }
    while i < len {
        while i < len && !is_consonant(w, i) {
            i += 1;
        }
        if i >= len {
            break;
        }
        while i < len && is_consonant(w, i) {
            i += 1;
        }
        n += 1;
    }
    n
}

fn has_vowel(w: &[u8], len: usize) -> bool {
    (0..len).any(|i| !is_consonant(w, i))
}

fn double_consonant(w: &[u8], len: usize) -> bool {
    len >= 2 && w[len - 1] == w[len - 2] && is_consonant(w, len - 1)
}

/// *o: stem ends consonant-vowel-consonant, the last not w, x or y.
fn cvc(w: &[u8], len: usize) -> bool {
    len >= 3
        && is_consonant(w, len - 3)
        && !is_consonant(w, len - 2)
        && is_consonant(w, len - 1)
        && !matches!(w[len - 1], b'w' | b'x' | b'y')
}

fn ends(w: &[u8], s: &str) -> bool {
    w.ends_with(s.as_bytes())
}

/// Replaces suffix `s` by `r` when the measure of the remaining stem exceeds `min_m`.
fn replace_if(w: &mut Vec<u8>, s: &str, r: &str, min_m: usize) -> bool {
    if !ends(w, s) {
        return false;
    }
    let stem = w.len() - s.len();
    if measure(w, stem) > min_m {
        w.truncate(stem);
        w.extend_from_slice(r.as_bytes());
    }
    true
}

/// Stems a lowercase ASCII word; other words are returned unchanged.
pub fn stem(word: &str) -> String {
    if word.len() <= 2 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return word.to_owned();
    }
    let mut w = word.as_bytes().to_vec();
    // Step 1a.
    if ends(&w, "sses") || ends(&w, "ies") {
        w.truncate(w.len() - 2);
    } else if ends(&w, "ss") {
    } else if ends(&w, "s") {
        w.pop();
    }
    // Step 1b.
    let mut extra = false;
    if ends(&w, "eed") {
        if measure(&w, w.len() - 3) > 0 {
            w.pop();
        }
    } else if ends(&w, "ed") && has_vowel(&w, w.len() - 2) {
        w.truncate(w.len() - 2);
        extra = true;
    } else if ends(&w, "ing") && has_vowel(&w, w.len() - 3) {
        w.truncate(w.len() - 3);
        extra = true;
    }
    if extra {
        if ends(&w, "at") || ends(&w, "bl") || ends(&w, "iz") {
            w.push(b'e');
        } else if double_consonant(&w, w.len()) && !matches!(w[w.len() - 1], b'l' | b's' | b'z') {
            w.pop();
        } else if measure(&w, w.len()) == 1 && cvc(&w, w.len()) {
            w.push(b'e');
        }
    }
    // Step 1c.
    if ends(&w, "y") && has_vowel(&w, w.len() - 1) {
        let n = w.len();
        w[n - 1] = b'i';
    }
    // Step 2.
    const STEP2: &[(&str, &str)] = &[
        ("ational", "ate"),
        ("tional", "tion"),
        ("enci", "ence"),
        ("anci", "ance"),
        ("izer", "ize"),
        ("abli", "able"),
        ("alli", "al"),
        ("entli", "ent"),
        ("eli", "e"),
        ("ousli", "ous"),
        ("ization", "ize"),
        ("ation", "ate"),
        ("ator", "ate"),
        ("alism", "al"),
        ("iveness", "ive"),
        ("fulness", "ful"),
        ("ousness", "ous"),
        ("aliti", "al"),
        ("iviti", "ive"),
        ("biliti", "ble"),
    ];
    for (s, r) in STEP2 {
        if replace_if(&mut w, s, r, 0) {
            break;
        }
    }
    // Step 3.
    const STEP3: &[(&str, &str)] = &[
        ("icate", "ic"),
        ("ative", ""),
        ("alize", "al"),
        ("iciti", "ic"),
        ("ical", "ic"),
        ("ful", ""),
        ("ness", ""),
    ];
    for (s, r) in STEP3 {
        if replace_if(&mut w, s, r, 0) {
            break;
        }
    }
    // Step 4.
    const STEP4: &[&str] = &[
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion",
        "ou", "ism", "ate", "iti", "ous", "ive", "ize",
    ];
    for s in STEP4 {
        if ends(&w, s) {
            let stem = w.len() - s.len();
            let ok = if *s == "ion" {
                stem > 0 && matches!(w[stem - 1], b's' | b't')
            } else {
                true
            };
            if ok && measure(&w, stem) > 1 {
                w.truncate(stem);
            }
            break;
        }
    }
    // Step 5a.
    if ends(&w, "e") {
        let stem = w.len() - 1;
        let m = measure(&w, stem);
        if m > 1 || (m == 1 && !cvc(&w, stem)) {
            w.pop();
        }
    }
    // Step 5b.
    if measure(&w, w.len()) > 1 && double_consonant(&w, w.len()) && w[w.len() - 1] == b'l' {
        w.pop();
    }
    String::from_utf8(w).unwrap_or_else(|_| word.to_owned())
}

#[cfg(test)]
mod tests {
    use super::stem;

    #[test]
    fn classic_examples() {
        for (w, s) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("cats", "cat"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("hopping", "hop"),
            ("filing", "file"),
            ("happy", "happi"),
            ("relational", "relat"),
            ("generalization", "gener"),
            ("electrical", "electr"),
            ("adjustment", "adjust"),
            ("controlling", "control"),
            ("running", "run"),
            ("a", "a"),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
    }
}
