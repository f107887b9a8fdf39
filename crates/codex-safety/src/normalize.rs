//! Normalization for phrase matching: lowercase, common character
//! substitutions (`1gn0re` → `ignore`), zero-width characters removed, every
//! run of other characters one space, and letters spelled out one by one
//! (`i g n o r e`) joined. Each byte of the normalized text remembers the
//! byte span of the original it came from.

use std::ops::Range;

/// A normalized text and, for each of its bytes, the original span.
#[derive(Debug)]
pub(crate) struct Normalized {
    pub(crate) text: String,
    spans: Vec<Range<usize>>,
}

impl Normalized {
    /// The original byte span covered by normalized bytes `r`.
    pub(crate) fn original(&self, r: Range<usize>) -> Range<usize> {
        self.spans[r.start].start..self.spans[r.end - 1].end
    }
}

/// The letter a look-alike stands for, when it sits inside a word: followed
/// by a letter, or between a letter and a letter or digit.
fn substitute(c: char, prev: Option<char>, next: Option<char>) -> Option<char> {
    let letter = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphabetic());
    let in_word = letter(next) || (letter(prev) && next.is_some_and(|c| c.is_ascii_alphanumeric()));
    if !in_word && matches!(c, '0' | '1' | '!' | '|' | '3' | '4' | '@' | '5' | '$' | '7') {
        return Some(c);
    }
    Some(match c {
        '0' => 'o',
        '1' | '!' | '|' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{ad}' => return None,
        c => c,
    })
}

/// Normalizes one phrase or text.
pub(crate) fn normalize(s: &str) -> Normalized {
    // Pass 1: mapped characters with collapsed separators.
    let mut units: Vec<(char, Range<usize>)> = Vec::with_capacity(s.len());
    let mut prev = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let span = i..i + c.len_utf8();
        let next = chars.peek().map(|&(_, n)| n);
        let mapped = substitute(c, prev, next);
        prev = Some(c);
        let Some(m) = mapped else { continue };
        if m.is_alphanumeric() {
            for l in m.to_lowercase() {
                units.push((l, span.clone()));
            }
        } else if units.last().is_some_and(|(u, _)| *u != ' ') {
            units.push((' ', span));
        }
    }
    while units.last().is_some_and(|(u, _)| *u == ' ') {
        units.pop();
    }
    // Pass 2: join runs of three or more one-letter words.
    let mut words: Vec<Range<usize>> = Vec::new();
    let mut start = 0;
    for (k, (u, _)) in units.iter().enumerate() {
        if *u == ' ' {
            words.push(start..k);
            start = k + 1;
        }
    }
    if start < units.len() {
        words.push(start..units.len());
    }
    let mut text = String::with_capacity(units.len());
    let mut spans = Vec::with_capacity(units.len());
    let mut push = |c: char, span: Range<usize>, text: &mut String| {
        text.push(c);
        for _ in 0..c.len_utf8() {
            spans.push(span.clone());
        }
    };
    let mut w = 0;
    while w < words.len() {
        let single = |i: usize| words.get(i).is_some_and(|r| r.len() == 1);
        let mut run = w;
        while single(run) {
            run += 1;
        }
        if !text.is_empty() {
            let sep = words[w].start - 1;
            push(' ', units[sep].1.clone(), &mut text);
        }
        if run - w >= 3 {
            for r in &words[w..run] {
                push(units[r.start].0, units[r.start].1.clone(), &mut text);
            }
            w = run;
        } else {
            for k in words[w].clone() {
                push(units[k].0, units[k].1.clone(), &mut text);
            }
            w += 1;
        }
    }
    Normalized { text, spans }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_spacing_and_substitutions_normalize_away() {
        assert_eq!(
            normalize("IGNORE  previous\tInstructions!").text,
            "ignore previous instructions"
        );
        assert_eq!(normalize("in 2026 at 4 pm").text, "in 2026 at 4 pm");
        assert_eq!(normalize("1gn0re prev1ous").text, "ignore previous");
        assert_eq!(normalize("i g n o r e previous").text, "ignore previous");
        assert_eq!(normalize("ig\u{200b}nore, a b").text, "ignore a b");
    }

    #[test]
    fn spans_point_into_the_original() {
        let s = "Say: I G N O R E it";
        let n = normalize(s);
        let at = n.text.find("ignore").unwrap();
        assert_eq!(&s[n.original(at..at + 6)], "I G N O R E");
    }
}
