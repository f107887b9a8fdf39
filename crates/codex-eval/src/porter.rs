//! The Porter stemmer as NLTK runs it by default (`NLTK_EXTENSIONS` mode),
//! which is the stemmer rouge-score applies with `use_stemmer=True`.
//!
//! Written from the algorithm (Porter 1980) and NLTK's documented departures:
//! a pool of irregular forms, `ies`/`ied` on four-letter words, `y -> i` only
//! after a consonant that is not the whole stem, `bli -> ble`, the recursive
//! `alli` rule, `fulli` and `logi`, and `*o` also true of two-letter
//! vowel-consonant stems. Words of two letters or fewer are left alone.
//! Works on lowercase ASCII, which is all rouge-score's tokenizer produces;
//! other characters count as consonants, as they do in NLTK.

/// Whether each byte of `w` is a consonant in Porter's sense: not a vowel, and
/// `y` only when it starts the word or follows a vowel.
fn consonants(w: &[u8]) -> Vec<bool> {
    let mut flags: Vec<bool> = Vec::with_capacity(w.len());
    for (i, &c) in w.iter().enumerate() {
        let consonant = match c {
            b'a' | b'e' | b'i' | b'o' | b'u' => false,
            b'y' => i == 0 || !flags[i - 1],
            _ => true,
        };
        flags.push(consonant);
    }
    flags
}

/// The number of vowel-consonant sequences, `m` in `[C](VC){m}[V]`.
fn measure(w: &[u8]) -> usize {
    let flags = consonants(w);
    flags.windows(2).filter(|p| !p[0] && p[1]).count()
}

fn contains_vowel(w: &[u8]) -> bool {
    consonants(w).iter().any(|&c| !c)
}

fn is_consonant(w: &[u8], i: usize) -> bool {
    consonants(&w[..=i])[i]
}

/// `*d`: ends with a double consonant.
fn ends_double_consonant(w: &[u8]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

/// `*o`: ends consonant-vowel-consonant, the last not w, x or y; NLTK also
/// accepts a two-letter vowel-consonant word.
fn ends_cvc(w: &[u8]) -> bool {
    let n = w.len();
    if n >= 3 {
        let f = consonants(w);
        if f[n - 3] && !f[n - 2] && f[n - 1] && !matches!(w[n - 1], b'w' | b'x' | b'y') {
            return true;
        }
    }
    if n == 2 {
        let f = consonants(w);
        return !f[0] && f[1];
    }
    false
}

/// What a rule does when its suffix matches.
enum Cond {
    Always,
    MeasureAbove(usize),
    /// Step 4's `ion`: m > 1 and the stem ends in s or t.
    IonStem,
    /// NLTK's `logi`: the word without its last three letters has m > 0.
    LogiWord,
}

/// Applies the first rule whose suffix the word ends with; if its condition
/// fails, the word is returned unchanged (later rules are not tried).
fn apply(word: Vec<u8>, rules: &[(&str, &str, Cond)]) -> Vec<u8> {
    for (suffix, replacement, cond) in rules {
        if word.ends_with(suffix.as_bytes()) {
            let stem = &word[..word.len() - suffix.len()];
            let ok = match cond {
                Cond::Always => true,
                Cond::MeasureAbove(m) => measure(stem) > *m,
                Cond::IonStem => measure(stem) > 1 && matches!(stem.last(), Some(b's' | b't')),
                Cond::LogiWord => measure(&word[..word.len() - 3]) > 0,
            };
            if ok {
                let mut out = stem.to_vec();
                out.extend_from_slice(replacement.as_bytes());
                return out;
            }
            return word;
        }
    }
    word
}

fn replace_suffix(word: &[u8], suffix: &str, replacement: &str) -> Vec<u8> {
    let mut out = word[..word.len() - suffix.len()].to_vec();
    out.extend_from_slice(replacement.as_bytes());
    out
}

fn step1a(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"ies") && word.len() == 4 {
        return replace_suffix(&word, "ies", "ie");
    }
    apply(
        word,
        &[
            ("sses", "ss", Cond::Always),
            ("ies", "i", Cond::Always),
            ("ss", "ss", Cond::Always),
            ("s", "", Cond::Always),
        ],
    )
}

fn step1b(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"ied") {
        return if word.len() == 4 {
            replace_suffix(&word, "ied", "ie")
        } else {
            replace_suffix(&word, "ied", "i")
        };
    }
    if word.ends_with(b"eed") {
        let stem = &word[..word.len() - 3];
        return if measure(stem) > 0 {
            replace_suffix(&word, "eed", "ee")
        } else {
            word
        };
    }
    let mut stem = None;
    for suffix in ["ed", "ing"] {
        if word.ends_with(suffix.as_bytes()) {
            let s = &word[..word.len() - suffix.len()];
            if contains_vowel(s) {
                stem = Some(s.to_vec());
                break;
            }
        }
    }
    let Some(stem) = stem else { return word };
    for (suffix, replacement) in [("at", "ate"), ("bl", "ble"), ("iz", "ize")] {
        if stem.ends_with(suffix.as_bytes()) {
            return replace_suffix(&stem, suffix, replacement);
        }
    }
    if ends_double_consonant(&stem) {
        let last = stem[stem.len() - 1];
        return if matches!(last, b'l' | b's' | b'z') {
            stem
        } else {
            stem[..stem.len() - 1].to_vec()
        };
    }
    if measure(&stem) == 1 && ends_cvc(&stem) {
        let mut out = stem;
        out.push(b'e');
        return out;
    }
    stem
}

fn step1c(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"y") {
        let stem = &word[..word.len() - 1];
        if stem.len() > 1 && is_consonant(stem, stem.len() - 1) {
            return replace_suffix(&word, "y", "i");
        }
    }
    word
}

fn step2(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"alli") && measure(&word[..word.len() - 4]) > 0 {
        return step2(replace_suffix(&word, "alli", "al"));
    }
    use Cond::MeasureAbove as M;
    apply(
        word,
        &[
            ("ational", "ate", M(0)),
            ("tional", "tion", M(0)),
            ("enci", "ence", M(0)),
            ("anci", "ance", M(0)),
            ("izer", "ize", M(0)),
            ("bli", "ble", M(0)),
            ("alli", "al", M(0)),
            ("entli", "ent", M(0)),
            ("eli", "e", M(0)),
            ("ousli", "ous", M(0)),
            ("ization", "ize", M(0)),
            ("ation", "ate", M(0)),
            ("ator", "ate", M(0)),
            ("alism", "al", M(0)),
            ("iveness", "ive", M(0)),
            ("fulness", "ful", M(0)),
            ("ousness", "ous", M(0)),
            ("aliti", "al", M(0)),
            ("iviti", "ive", M(0)),
            ("biliti", "ble", M(0)),
            ("fulli", "ful", M(0)),
            ("logi", "log", Cond::LogiWord),
        ],
    )
}

fn step3(word: Vec<u8>) -> Vec<u8> {
    use Cond::MeasureAbove as M;
    apply(
        word,
        &[
            ("icate", "ic", M(0)),
            ("ative", "", M(0)),
            ("alize", "al", M(0)),
            ("iciti", "ic", M(0)),
            ("ical", "ic", M(0)),
            ("ful", "", M(0)),
            ("ness", "", M(0)),
        ],
    )
}

fn step4(word: Vec<u8>) -> Vec<u8> {
    use Cond::MeasureAbove as M;
    apply(
        word,
        &[
            ("al", "", M(1)),
            ("ance", "", M(1)),
            ("ence", "", M(1)),
            ("er", "", M(1)),
            ("ic", "", M(1)),
            ("able", "", M(1)),
            ("ible", "", M(1)),
            ("ant", "", M(1)),
            ("ement", "", M(1)),
            ("ment", "", M(1)),
            ("ent", "", M(1)),
            ("ion", "", Cond::IonStem),
            ("ou", "", M(1)),
            ("ism", "", M(1)),
            ("ate", "", M(1)),
            ("iti", "", M(1)),
            ("ous", "", M(1)),
            ("ive", "", M(1)),
            ("ize", "", M(1)),
        ],
    )
}

fn step5a(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"e") {
        let stem = &word[..word.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            return stem.to_vec();
        }
    }
    word
}

fn step5b(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"ll") && measure(&word[..word.len() - 1]) > 1 {
        return word[..word.len() - 1].to_vec();
    }
    word
}

/// NLTK's irregular forms, checked before the rules.
fn irregular(word: &str) -> Option<&'static str> {
    Some(match word {
        "sky" | "skies" => "sky",
        "dying" => "die",
        "lying" => "lie",
        "tying" => "tie",
        "news" => "news",
        "innings" | "inning" => "inning",
        "outings" | "outing" => "outing",
        "cannings" | "canning" => "canning",
        "howe" => "howe",
        "proceed" => "proceed",
        "exceed" => "exceed",
        "succeed" => "succeed",
        _ => return None,
    })
}

/// Stems one lowercase word as NLTK's `PorterStemmer().stem` does.
pub fn stem(word: &str) -> String {
    if let Some(s) = irregular(word) {
        return s.to_owned();
    }
    if word.chars().count() <= 2 || !word.is_ascii() {
        // rouge-score only stems [a-z0-9] tokens; other text is returned as is.
        return word.to_owned();
    }
    let mut w = word.as_bytes().to_vec();
    w = step1a(w);
    w = step1b(w);
    w = step1c(w);
    w = step2(w);
    w = step3(w);
    w = step4(w);
    w = step5a(w);
    w = step5b(w);
    String::from_utf8(w).expect("ASCII in, ASCII out")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_from_the_paper_and_nltk() {
        for (w, s) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "tie"),
            ("cats", "cat"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("hopping", "hop"),
            ("filing", "file"),
            ("happy", "happi"),
            ("relational", "relat"),
            ("generalization", "gener"),
            ("dying", "die"),
            ("enjoy", "enjoy"),
            ("controll", "control"),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
    }
}
