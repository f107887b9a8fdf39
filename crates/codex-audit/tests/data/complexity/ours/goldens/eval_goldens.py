"""Golden values for codex-eval, computed with the reference packages.

Run with sacrebleu 2.6.0, rouge-score 0.1.2 and nltk installed
(scripts/goldens/requirements-eval.txt):

    python scripts/goldens/eval_goldens.py tests/data/eval/goldens.json

The fixture texts are written here (hand-picked edge cases) or generated from
a seeded random stream, so nothing third-party is bundled. EM/F1 follow the
SQuAD v1.1 evaluation's definitions, written out below.
"""

import collections
import json
import random
import re
import string
import sys

import nltk
import rouge_score
import sacrebleu
from nltk.stem.porter import PorterStemmer
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF

HANDWRITTEN = [
    # (hypothesis, [references...])
    ("The cat sat on the mat.", ["The cat sat on the mat.", "A cat was sitting on the mat."]),
    ("the cat the cat the cat", ["The cat is on the mat.", "There is a cat on the mat."]),
    ("", ["An empty hypothesis scores nothing.", "Nothing at all."]),
    ("   ", ["Whitespace only.", "Only whitespace."]),
    ("Hello, world!", ["Hello world!", "Hello, world."]),
    ("It costs $1,000.50, not 1.000,50 EUR.", ["It costs $1,000.50 and not 1.000,50 EUR.", "The price is $1,000.50."]),
    ("Pages 3-4 and 10--12 (see U.S.A. report).", ["Pages 3-4 and 10-12 (see the U.S.A. report).", "See pages 3-4."]),
    ("Tom &amp; Jerry &lt;b&gt;bold&lt;/b&gt; &quot;quoted&quot; &amp;lt;", ["Tom & Jerry <b>bold</b> \"quoted\" &lt;", "Tom and Jerry"]),
    ("don't won't can't it's", ["do not will not cannot it is", "don't won't can't it's"]),
    ("Café naïve résumé Straße", ["Cafe naive resume Strasse", "Café naïve résumé Straße"]),
    ("東京は日本の首都です。", ["東京は日本の首都である。", "日本の首都は東京です。"]),
    ("ΟΔΟΣ ΚΑΙ ΛΟΓΟΣ", ["οδος και λογος", "ΟΔΟΣ ΚΑΙ ΛΟΓΟΣ"]),
    ("Emoji 😀 test 👍🏽 ok", ["Emoji 😀 test 👍 ok", "emoji test ok"]),
    ("a", ["a", "b"]),
    ("x", ["y", "z"]),
    ("Yes.", ["Yes.", "Yes!"]),
    ("tab\tseparated\u00a0nbsp\u2003emspace", ["tab separated nbsp emspace", "tab\tseparated"]),
    ("skip <skipped> this-\nline\nbreak", ["skip this line break", "skip thisline break"]),
    ("Numbers: 1.5, 2,5; 3-4-5 and -7.", ["Numbers: 1.5, 2,5; 3-4-5 and -7.", "numbers 1.5 2,5 3-4-5 -7"]),
    ("Arabic digits ٣ and ½ and ²", ["Arabic digits 3 and 1/2 and 2", "digits ٣ ½ ²"]),
    ("«Quotes» „here“ — dash – en…", ["\"Quotes\" \"here\" - dash - en...", "«Quotes» „here“ — dash – en…"]),
    ("Combining e\u0301 and the a\u0301 article", ["Combining é and the á article", "combining e and a article"]),
    ("The Answer is 42", ["the answer is 42", "42"]),
    ("an apple a day", ["An apple, a day!", "the apple"]),
    ("First sentence here.\nSecond one follows.\nThird.", ["First sentence is here.\nThen the second one.", "Third.\nFirst sentence here."]),
    ("relational conditional happiness generalization running runners",
     ["relate condition happy general run runner", "relational conditions happily generalizations ran runner"]),
    ("Caresses ponies ties cats feed agreed plastered motoring sing hopping falling filing",
     ["caress pony tie cat feeding agree plaster motor singing hop fall file", "caresses ponies"]),
]

WORDS = (
    "the a an of to in and is was for on with as by at from that this it be are were "
    "model models training trained trains data dataset evaluation evaluating evaluated "
    "language languages relational conditional happiness generalization running runner "
    "quickly quick brown fox jumps jumping jumped over lazy dog dogs cats cat sat mat "
    "sky skies dying lying tying news innings proceed exceed succeed "
    "national rational operator feudalism decisiveness hopefulness callousness formality "
    "sensitivity sensibility triplicate formative formalize electricity electrical hopeful "
    "goodness revival allowance inference airliner gyroscopic adjustable defensible "
    "irritant replacement adjustment dependent adoption homologous communism activate "
    "angularity effective bowdlerize probate rate cease controlling rolling "
    "café naïve Straße 東京 über résumé"
).split()
PUNCT = [",", ".", "!", "?", ";", ":", "(", ")", "\"", "'", "-", "&amp;", "%", "$"]


def generated(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.choice([1, 2, 3, 5, 8, 12, 20, 35, 60])
        ref = []
        for _ in range(length):
            r = rng.random()
            if r < 0.08:
                ref.append(rng.choice(["1,000", "3.5", "3-4", "2026", "0.5%", "$12.99", "-7"]))
            elif r < 0.2:
                w = rng.choice(WORDS)
                p = rng.choice(PUNCT)
                ref.append(w + p if rng.random() < 0.7 else p + w)
            else:
                w = rng.choice(WORDS)
                ref.append(w.capitalize() if rng.random() < 0.1 else w)
        ref_text = " ".join(ref)

        def perturb(tokens):
            t = list(tokens)
            for _ in range(rng.randint(0, max(1, len(t) // 3))):
                op = rng.random()
                if not t:
                    break
                i = rng.randrange(len(t))
                if op < 0.3:
                    del t[i]
                elif op < 0.6:
                    t[i] = rng.choice(WORDS)
                elif op < 0.8:
                    j = rng.randrange(len(t))
                    t[i], t[j] = t[j], t[i]
                else:
                    t.insert(i, rng.choice(WORDS))
            return " ".join(t)

        hyp = perturb(ref) if rng.random() > 0.03 else ""
        refs = [ref_text, perturb(ref)]
        if rng.random() < 0.3:
            refs.append(perturb(ref))
        out.append((hyp, refs))
    return out


def streams(segments, nrefs):
    """sacreBLEU's layout: one stream per reference position, None where missing."""
    width = max(len(r[:nrefs]) for _, r in segments)
    return [[(r[k] if k < len(r[:nrefs]) else None) for _, r in segments] for k in range(width)]


# SQuAD v1.1 evaluation definitions.
def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def porter_words(seed):
    rng = random.Random(seed)
    suffixes = (
        "sses ies ss s eed ed ing at bl iz y ational tional enci anci izer bli alli entli eli ousli "
        "ization ation ator alism iveness fulness ousness aliti iviti biliti fulli logi icate ative "
        "alize iciti ical ful ness al ance ence er ic able ible ant ement ment ent ion sion tion ou "
        "ism ate iti ous ive ize e ll ly ied ying yed ating bled izing ingly edly ies"
    ).split()
    stems = "hop fil cont rel y yy b ab sky dy fall hiss fizz trou conflat happ enjoy sp tr agr feed bl oy toy syzyg ivy".split()
    letters = "abcdefghijklmnopqrstuvwxyz"
    for _ in range(60):
        stems.append("".join(rng.choice(letters) for _ in range(rng.randint(1, 7))))
    words = set()
    for s in stems:
        for suf in suffixes:
            words.add(s + suf)
        words.add(s)
    for w in WORDS:
        words.add(w.lower())
    words.update(["sky", "skies", "dying", "lying", "tying", "news", "innings", "inning", "outings",
                  "cannings", "howe", "proceed", "exceed", "succeed", "ies", "ied", "dies", "died",
                  "generalizations", "oscillators", "hopefulli", "analogi", "bowdlerizes", "controll"])
    return sorted(w for w in words if w.isascii())


def main(out_path):
    sets = {
        "handwritten": HANDWRITTEN,
        "generated": generated(400, 20261121),
    }
    gold = {
        "sacrebleu_version": sacrebleu.__version__,
        "rouge_score_version": "0.1.2",
        "nltk_version": nltk.__version__,
        "sets": {k: {"hyps": [h for h, _ in v], "refs": [r for _, r in v]} for k, v in sets.items()},
        "bleu_corpus": [],
        "bleu_sentence": [],
        "chrf_corpus": [],
        "chrf_sentence": [],
        "rouge": [],
        "squad": [],
    }
    bleu_configs = [
        {},
        {"tokenize": "intl"},
        {"tokenize": "char"},
        {"tokenize": "none"},
        {"smooth_method": "floor"},
        {"smooth_method": "floor", "smooth_value": 0.2},
        {"smooth_method": "add-k"},
        {"smooth_method": "add-k", "smooth_value": 2},
        {"smooth_method": "none"},
        {"lowercase": True},
        {"effective_order": True},
        {"tokenize": "intl", "lowercase": True, "smooth_method": "floor"},
    ]
    chrf_configs = [
        {},
        {"word_order": 2},
        {"whitespace": True},
        {"lowercase": True},
        {"eps_smoothing": True},
        {"word_order": 2, "eps_smoothing": True, "lowercase": True},
        {"char_order": 4, "word_order": 1, "beta": 1},
    ]
    for name, segs in sets.items():
        hyps = [h for h, _ in segs]
        for nrefs in (1, 3):
            refs = streams(segs, nrefs)
            for cfg in bleu_configs:
                bleu = BLEU(**cfg)
                score = bleu.corpus_score(hyps, refs)
                gold["bleu_corpus"].append({
                    "set": name, "nrefs": nrefs, "config": cfg, "score": score.score,
                    "signature": str(bleu.get_signature()),
                    "counts": list(map(float, score.counts)), "totals": list(map(float, score.totals)),
                    "bp": score.bp, "sys_len": score.sys_len, "ref_len": score.ref_len,
                })
            for cfg in chrf_configs:
                chrf = CHRF(**cfg)
                score = chrf.corpus_score(hyps, refs)
                gold["chrf_corpus"].append({
                    "set": name, "nrefs": nrefs, "config": cfg, "score": score.score,
                    "signature": str(chrf.get_signature()), "name": score.name,
                })
            per_seg = [[r for r in rs[:nrefs]] for _, rs in segs]
            gold["bleu_sentence"].append({
                "set": name, "nrefs": nrefs,
                "scores": [sacrebleu.sentence_bleu(h, r).score for h, r in zip(hyps, per_seg)],
            })
            for cfg in ({}, {"word_order": 2}):
                gold["chrf_sentence"].append({
                    "set": name, "nrefs": nrefs, "config": cfg,
                    "scores": [CHRF(**cfg).sentence_score(h, r).score for h, r in zip(hyps, per_seg)],
                })
            types = ["rouge1", "rouge2", "rouge3", "rougeL", "rougeLsum"]
            for stem in (False, True):
                scorer = rouge_scorer.RougeScorer(types, use_stemmer=stem)
                scores = []
                for h, r in zip(hyps, per_seg):
                    s = scorer.score_multi(r, h)
                    scores.append([[s[t].precision, s[t].recall, s[t].fmeasure] for t in types])
                gold["rouge"].append({"set": name, "nrefs": nrefs, "stemmer": stem, "types": types, "scores": scores})
            gold["squad"].append({
                "set": name, "nrefs": nrefs,
                "em": [float(max(exact_match_score(h, g) for g in r)) for h, r in zip(hyps, per_seg)],
                "f1": [float(max(f1_score(h, g) for g in r)) for h, r in zip(hyps, per_seg)],
            })
    stemmer = PorterStemmer()
    words = porter_words(7)
    gold["porter"] = {"words": words, "stems": [stemmer.stem(w) for w in words]}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(gold, f, ensure_ascii=False, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
