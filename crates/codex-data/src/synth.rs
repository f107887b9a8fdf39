//! A deterministic, grammar-based generator of English-like text.
//!
//! Documents (one per line) each follow one topic: a topic has its own nouns,
//! verbs and adjectives, drawn with Zipf-like skew, and sentences follow a small
//! grammar with determiners, number agreement, prepositional phrases, subordinate
//! clauses and questions. The structure lets a small model's loss fall well below
//! the corpus's unigram entropy. No third-party text is involved.
//!
//! Determinism: output is cut into chunks of [`CHUNK_BYTES`]; chunk `i` draws from
//! its own generator seeded by `(seed, i)`, so chunks can be made in parallel and
//! the bytes are the same for any thread count and machine.

use std::io::Write;

use rayon::prelude::*;

/// Target size of one independently seeded chunk.
pub const CHUNK_BYTES: usize = 1 << 20;

pub(crate) use codex_core::Rng;

/// The synthetic grammar's draws on top of the shared generator.
trait Draws {
    fn skewed(&mut self, n: usize) -> usize;
    fn chance(&mut self, percent: u64) -> bool;
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str;
}

impl Draws for Rng {
    /// Skewed towards small indices: the minimum of two uniform draws.
    fn skewed(&mut self, n: usize) -> usize {
        self.below(n).min(self.below(n))
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.skewed(items.len())]
    }
}

struct Topic {
    nouns: &'static [&'static str],
    verbs: &'static [&'static str],
    adjectives: &'static [&'static str],
    places: &'static [&'static str],
}

const TOPICS: &[Topic] = &[
    Topic {
        nouns: &[
            "river",
            "boat",
            "fisher",
            "net",
            "harbor",
            "wave",
            "sail",
            "island",
            "tide",
            "gull",
            "shore",
            "anchor",
            "current",
            "lighthouse",
            "crew",
        ],
        verbs: &[
            "cross", "pull", "watch", "follow", "repair", "carry", "reach", "leave", "tie", "steer",
        ],
        adjectives: &[
            "calm", "wide", "salty", "grey", "wet", "distant", "narrow", "deep", "quiet", "rough",
        ],
        places: &[
            "the harbor",
            "the open sea",
            "the northern coast",
            "the old pier",
            "the river mouth",
        ],
    },
    Topic {
        nouns: &[
            "farmer", "field", "seed", "harvest", "barn", "goat", "orchard", "plough", "fence",
            "well", "wheat", "apple", "market", "cart", "season",
        ],
        verbs: &[
            "plant", "gather", "feed", "sell", "water", "build", "count", "store", "trade", "grow",
        ],
        adjectives: &[
            "green", "dry", "ripe", "heavy", "early", "golden", "small", "fertile", "muddy",
            "sweet",
        ],
        places: &[
            "the valley",
            "the south field",
            "the village market",
            "the hill farm",
            "the old barn",
        ],
    },
    Topic {
        nouns: &[
            "engineer", "bridge", "engine", "machine", "tower", "wire", "signal", "station",
            "railway", "gear", "lamp", "workshop", "tool", "plan", "circuit",
        ],
        verbs: &[
            "design", "test", "measure", "connect", "replace", "inspect", "power", "adjust",
            "assemble", "lift",
        ],
        adjectives: &[
            "steel", "electric", "precise", "broken", "new", "heavy", "complex", "bright", "loud",
            "stable",
        ],
        places: &[
            "the workshop",
            "the central station",
            "the city",
            "the factory floor",
            "the north bridge",
        ],
    },
    Topic {
        nouns: &[
            "singer", "song", "drum", "choir", "melody", "violin", "stage", "crowd", "rhythm",
            "poet", "story", "festival", "dancer", "hall", "note",
        ],
        verbs: &[
            "sing", "play", "write", "hear", "praise", "learn", "perform", "remember", "tell",
            "join",
        ],
        adjectives: &[
            "soft", "joyful", "old", "famous", "slow", "clear", "warm", "strange", "gentle",
            "lively",
        ],
        places: &[
            "the great hall",
            "the square",
            "the festival",
            "the theatre",
            "the king's court",
        ],
    },
    Topic {
        nouns: &[
            "scholar",
            "book",
            "star",
            "map",
            "letter",
            "lesson",
            "theory",
            "library",
            "student",
            "number",
            "question",
            "telescope",
            "record",
            "page",
            "answer",
        ],
        verbs: &[
            "read", "study", "copy", "explain", "observe", "compare", "solve", "discover", "teach",
            "prove",
        ],
        adjectives: &[
            "careful",
            "ancient",
            "curious",
            "difficult",
            "simple",
            "long",
            "true",
            "hidden",
            "clever",
            "patient",
        ],
        places: &[
            "the library",
            "the observatory",
            "the school",
            "the archive",
            "the university",
        ],
    },
];

const NAMES: &[&str] = &[
    "Ada", "Bram", "Chen", "Dalia", "Emil", "Farah", "Goran", "Hana", "Ivo", "Jun", "Kira", "Luca",
    "Mira", "Nils", "Oona", "Pavel",
];
const TIMES: &[&str] = &[
    "in the morning",
    "at night",
    "before the storm",
    "after the rain",
    "every spring",
    "last winter",
    "at dawn",
    "by evening",
];
const ADVERBS: &[&str] = &[
    "slowly",
    "often",
    "quietly",
    "again",
    "carefully",
    "together",
    "finally",
    "rarely",
];
const PREPOSITIONS: &[&str] = &[
    "near", "behind", "beside", "across", "under", "above", "toward", "past",
];

fn plural(noun: &str) -> String {
    if noun.ends_with('s') || noun.ends_with("sh") || noun.ends_with("ch") {
        format!("{noun}es")
    } else if let Some(stem) = noun
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{stem}ies")
    } else {
        format!("{noun}s")
    }
}

fn third_person(verb: &str) -> String {
    plural(verb)
}

fn past(verb: &str) -> String {
    match verb {
        "sing" => "sang".into(),
        "write" => "wrote".into(),
        "hear" => "heard".into(),
        "tell" => "told".into(),
        "read" => "read".into(),
        "teach" => "taught".into(),
        "build" => "built".into(),
        "sell" => "sold".into(),
        "feed" => "fed".into(),
        "grow" => "grew".into(),
        "leave" => "left".into(),
        "lift" => "lifted".into(),
        v if v.ends_with('e') => format!("{v}d"),
        v => format!("{v}ed"),
    }
}

fn article(next_word: &str) -> &'static str {
    if next_word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A noun phrase and whether it is plural.
fn noun_phrase(rng: &mut Rng, topic: &Topic) -> (String, bool) {
    let noun = rng.pick(topic.nouns);
    let plural_np = rng.chance(30);
    let adjective = rng.chance(45).then(|| rng.pick(topic.adjectives));
    let head = match adjective {
        Some(a) => format!(
            "{a} {}",
            if plural_np {
                plural(noun)
            } else {
                noun.to_owned()
            }
        ),
        None => {
            if plural_np {
                plural(noun)
            } else {
                noun.to_owned()
            }
        }
    };
    let determiner = match (plural_np, rng.below(3)) {
        (true, 0) => "some".to_owned(),
        (true, 1) => ["two", "three", "many", "few"][rng.below(4)].to_owned(),
        (false, 0) => article(&head).to_owned(),
        (false, 1) => "this".to_owned(),
        _ => "the".to_owned(),
    };
    (format!("{determiner} {head}"), plural_np)
}

fn verb_form(rng: &mut Rng, verb: &str, plural_subject: bool) -> String {
    match rng.below(3) {
        0 => past(verb),
        1 if plural_subject => verb.to_owned(),
        1 => third_person(verb),
        _ => format!("will {verb}"),
    }
}

fn sentence(rng: &mut Rng, topic: &Topic) -> String {
    let mut s = match rng.below(6) {
        0 => {
            let name = rng.pick(NAMES);
            let (object, _) = noun_phrase(rng, topic);
            let verb = rng.pick(topic.verbs);
            format!(
                "{name} {} {object} {} {}",
                past(verb),
                rng.pick(PREPOSITIONS),
                rng.pick(topic.places)
            )
        }
        1 => {
            let (subject, pl) = noun_phrase(rng, topic);
            let adjective = rng.pick(topic.adjectives);
            format!(
                "{subject} {} {adjective} {}",
                if pl { "were" } else { "was" },
                rng.pick(TIMES)
            )
        }
        2 => {
            let (subject, pl) = noun_phrase(rng, topic);
            let (object, _) = noun_phrase(rng, topic);
            let verb = rng.pick(topic.verbs);
            let (clause_subject, cpl) = noun_phrase(rng, topic);
            format!(
                "when {clause_subject} {} {}, {subject} {} {object}",
                if cpl { "were" } else { "was" },
                rng.pick(topic.adjectives),
                verb_form(rng, verb, pl)
            )
        }
        3 => {
            let (subject, _) = noun_phrase(rng, topic);
            let (object, _) = noun_phrase(rng, topic);
            let verb = rng.pick(topic.verbs);
            return capitalize(&format!(
                "did {subject} {verb} {object} {}?",
                rng.pick(TIMES)
            ));
        }
        4 => {
            let name = rng.pick(NAMES);
            let (subject, pl) = noun_phrase(rng, topic);
            let verb = rng.pick(topic.verbs);
            let (object, _) = noun_phrase(rng, topic);
            format!(
                "{name} said that {subject} {} {object} {}",
                verb_form(rng, verb, pl),
                rng.pick(ADVERBS)
            )
        }
        _ => {
            let (subject, pl) = noun_phrase(rng, topic);
            let verb = rng.pick(topic.verbs);
            let (object, _) = noun_phrase(rng, topic);
            let count = 2 + rng.below(40);
            format!(
                "{subject} {} {object} {count} times {}",
                verb_form(rng, verb, pl),
                rng.pick(TIMES)
            )
        }
    };
    s.push(if rng.chance(8) { '!' } else { '.' });
    capitalize(&s)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// One document: a topic and 2–8 sentences, on one line.
fn document(rng: &mut Rng) -> String {
    let topic = &TOPICS[rng.below(TOPICS.len())];
    let n = 2 + rng.below(7);
    let sentences: Vec<String> = (0..n).map(|_| sentence(rng, topic)).collect();
    sentences.join(" ")
}

/// Chunk `index` of the corpus for `seed`: whole documents, at least `CHUNK_BYTES` long.
pub fn chunk(seed: u64, index: u64) -> String {
    let mut rng = Rng::new(seed, index);
    let mut out = String::with_capacity(CHUNK_BYTES + 4096);
    while out.len() < CHUNK_BYTES {
        out.push_str(&document(&mut rng));
        out.push('\n');
    }
    out
}

/// Writes `bytes` bytes of corpus (cut at the last whole document) to `out`,
/// generating chunks in parallel. Returns the bytes written.
pub fn write_corpus(out: &mut impl Write, bytes: u64, seed: u64) -> std::io::Result<u64> {
    let mut written = 0u64;
    let mut index = 0u64;
    let wave = rayon::current_num_threads().max(1) as u64 * 2;
    while written < bytes {
        let chunks: Vec<String> = (index..index + wave)
            .into_par_iter()
            .map(|i| chunk(seed, i))
            .collect();
        index += wave;
        for c in chunks {
            let remaining = bytes - written;
            if (c.len() as u64) <= remaining {
                out.write_all(c.as_bytes())?;
                written += c.len() as u64;
            } else {
                // Cut at the last document that fits, so every line is whole.
                let cut = c[..remaining as usize].rfind('\n').map_or(0, |i| i + 1);
                out.write_all(&c.as_bytes()[..cut])?;
                written += cut as u64;
                return Ok(written);
            }
        }
    }
    Ok(written)
}

/// Words the chat tasks draw from.
const CHAT_WORDS: [&str; 16] = [
    "red", "green", "blue", "cat", "dog", "tree", "river", "stone", "bird", "lamp", "road", "moon",
    "fish", "rain", "salt", "wolf",
];
const CHAT_NAMES: [&str; 8] = ["Ada", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Ivy"];
const CHAT_CITIES: [&str; 8] = [
    "Lyon", "Oslo", "Lima", "Kyiv", "Rome", "Pune", "Nice", "Bern",
];

/// Whether a chat question belongs to the held-out set: one question in
/// eight, by a hash of its text, so training and held-out sets never share
/// a question whatever their sizes.
pub fn chat_heldout(question: &str) -> bool {
    blake3::hash(question.as_bytes()).as_bytes()[0].is_multiple_of(8)
}

/// Chat example `index` of the seeded instruction set for `seed`, from the
/// training questions or (with `heldout`) the held-out ones: a
/// `{"messages": [...]}` record whose answer follows from the question, so a
/// model that learns the task can be scored by exact match. Three tasks,
/// each one a small model can learn to generalize to unseen questions:
/// counting two to seven words, reversing three to five words, and reading
/// a person's city or age out of a short passage.
pub fn chat_example(seed: u64, index: u64, heldout: bool) -> serde_json::Value {
    let mut rng = Rng::new(seed ^ 0xC4A7_0000_0000_0000, index);
    loop {
        let (question, answer) = chat_task(&mut rng);
        if chat_heldout(&question) == heldout {
            return serde_json::json!({"messages": [
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]});
        }
    }
}

fn chat_task(rng: &mut Rng) -> (String, String) {
    match rng.below(3) {
        0 => {
            let n = 2 + rng.below(6);
            let words: Vec<&str> = (0..n)
                .map(|_| CHAT_WORDS[rng.below(CHAT_WORDS.len())])
                .collect();
            (
                format!("How many words are in: {}?", words.join(" ")),
                n.to_string(),
            )
        }
        1 => {
            let n = 3 + rng.below(3);
            let words: Vec<&str> = (0..n)
                .map(|_| CHAT_WORDS[rng.below(CHAT_WORDS.len())])
                .collect();
            let reversed: Vec<&str> = words.iter().rev().copied().collect();
            (
                format!("Reverse the words: {}", words.join(" ")),
                reversed.join(" "),
            )
        }
        _ => {
            let name = CHAT_NAMES[rng.below(CHAT_NAMES.len())];
            let city = CHAT_CITIES[rng.below(CHAT_CITIES.len())];
            let age = 20 + rng.below(60);
            let passage = format!("{name} is {age} years old and lives in {city}.");
            if rng.below(2) == 0 {
                (
                    format!("{passage} Where does {name} live?"),
                    city.to_owned(),
                )
            } else {
                (format!("{passage} How old is {name}?"), age.to_string())
            }
        }
    }
}

/// Writes `examples` chat records (JSONL) for `seed`, training or held-out
/// questions. Returns the bytes written.
pub fn write_chat(
    out: &mut impl Write,
    examples: u64,
    seed: u64,
    heldout: bool,
) -> std::io::Result<u64> {
    let mut written = 0u64;
    for i in 0..examples {
        let line = chat_example(seed, i, heldout).to_string() + "\n";
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(written)
}

/// Parses sizes like `10MB`, `1.5GB`, `512KiB` or `1000` (bytes). Decimal units
/// are powers of 1000, binary units (`KiB`, `MiB`, `GiB`) powers of 1024.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = value * factor;
    (bytes.is_finite() && bytes >= 1.0).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn chat_answers_follow_from_questions_and_held_out_questions_are_unseen() {
        let question =
            |v: &serde_json::Value| v["messages"][0]["content"].as_str().unwrap().to_owned();
        let answer =
            |v: &serde_json::Value| v["messages"][1]["content"].as_str().unwrap().to_owned();
        let train: Vec<_> = (0..600).map(|i| chat_example(3, i, false)).collect();
        let held: Vec<_> = (0..100).map(|i| chat_example(3, i, true)).collect();
        assert_eq!(train[5], chat_example(3, 5, false), "deterministic");
        let seen: std::collections::HashSet<String> = train.iter().map(question).collect();
        assert!(held.iter().all(|h| !seen.contains(&question(h))));
        for ex in train.iter().chain(&held) {
            let (q, a) = (question(ex), answer(ex));
            if let Some(words) = q
                .strip_prefix("How many words are in: ")
                .and_then(|r| r.strip_suffix('?'))
            {
                assert_eq!(a, words.split(' ').count().to_string(), "{q}");
            } else if let Some(words) = q.strip_prefix("Reverse the words: ") {
                let rev: Vec<&str> = words.split(' ').rev().collect();
                assert_eq!(a, rev.join(" "));
            } else {
                assert!(q.contains(&a), "{q} / {a}");
            }
        }
    }

    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MB"), Some(10_000_000));
        assert_eq!(parse_size("1.5GB"), Some(1_500_000_000));
        assert_eq!(parse_size("512KiB"), Some(524_288));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("ten MB"), None);
        assert_eq!(parse_size("0MB"), None);
        assert_eq!(parse_size("3 parsecs"), None);
    }

    #[test]
    fn same_seed_same_bytes_and_whole_lines() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_corpus(&mut a, 3_000_000, 7).unwrap();
        write_corpus(&mut b, 3_000_000, 7).unwrap();
        assert_eq!(a, b);
        assert!(a.len() <= 3_000_000 && a.len() > 2_990_000);
        assert_eq!(a.last(), Some(&b'\n'));
        let mut c = Vec::new();
        write_corpus(&mut c, 3_000_000, 8).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn output_does_not_depend_on_thread_count() {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let mut a = Vec::new();
        one.install(|| write_corpus(&mut a, 2_500_000, 3)).unwrap();
        let mut b = Vec::new();
        write_corpus(&mut b, 2_500_000, 3).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn grammar_reads_like_english() {
        let text = chunk(0, 0);
        let first = text.lines().next().unwrap();
        assert!(first.chars().next().unwrap().is_uppercase(), "{first}");
        assert!(first.ends_with(['.', '!', '?']), "{first}");
        assert_eq!(plural("branch"), "branches");
        assert_eq!(plural("story"), "stories");
        assert_eq!(plural("day"), "days");
        assert_eq!(past("plant"), "planted");
        assert_eq!(past("observe"), "observed");
    }
}
