"""A probe, not shipped: do the model's token outputs help the short-answer scorer (issue 21)?

    python benchmarks/train_short_answer.py dump --split tune    # once: /tmp/qa-short/tune.jsonl
    python benchmarks/token_reader_probe.py                      # ~10 min on 2 busy cores

SQuAD v1.1 dev articles 1-24 only, out of fold by article as in train_short_answer.py. Each
sentence (the gold one of every question, and the first passage's of every answered question)
is run through the bundled model alone (int8 ONNX); a candidate's vector is the mean of its
tokens' outputs. A "reader head" (a conditional logit over each gold sentence's candidates on
[candidate vector * question vector, candidate vector], 768 weights, 15 sampled wrong candidates
per sentence) is fitted per fold of articles; its rank and score gap within the sentence become
two more named features of the scorer, from the head that never saw the sentence's article.
Prints the head alone, then the scorer's best candidate per fold and the usual figures at
coverage 0.30 and at the threshold train_short_answer.py's rule picks (three seeds of the
confidence), as `train` would report them with these features added.

Shipping it would mean a forward pass over the highlighted sentence at every answered ask.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_short_answer as T  # noqa: E402

from qa import span  # noqa: E402
from qa.embed import Embedder, bundled_model_path  # noqa: E402
from qa.evaluate import split_articles, squad_articles, squad_normalize  # noqa: E402
from qa.onnx_embed import OnnxEncoder  # noqa: E402
from qa.text import sentences  # noqa: E402

NEGATIVES = 15


def candidate_vectors(encoder: OnnxEncoder, sentence: str, c) -> np.ndarray:
    e = encoder.tokenizer.encode(sentence)
    feed = {"input_ids": np.array([e.ids], np.int64), "attention_mask": np.array([e.attention_mask], np.int64),
            "token_type_ids": np.array([e.type_ids], np.int64)}
    hidden = encoder._hidden(feed)[0]
    offsets = np.array(e.offsets).reshape(-1, 2)
    out = np.zeros((len(c.spans), hidden.shape[1]), np.float32)
    for k, (i, j) in enumerate(c.spans):
        a, b = c.tokens[i].start, c.tokens[j].end
        inside = (offsets[:, 0] >= a) & (offsets[:, 1] <= b) & (offsets[:, 1] > offsets[:, 0])
        if inside.any():
            out[k] = hidden[inside].mean(0)
    return out


def fit_head(items: list[tuple[np.ndarray, np.ndarray]], l2: float = 1.0) -> np.ndarray:
    """The scorer's conditional logit (train_short_answer.fit_scorer) on dense candidate vectors."""
    starts = np.cumsum([0] + [len(y) for _, y in items[:-1]])
    return T.fit_scorer(np.vstack([x for x, _ in items]), np.concatenate([y for _, y in items]), starts, l2, maxiter=80)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dump", type=Path, default=T.DUMPS / "tune.jsonl")
    args = ap.parse_args()
    encoder = OnnxEncoder(bundled_model_path(), "int8")
    embedder = Embedder.shared(precision="int8")
    articles = squad_articles()
    rows = [json.loads(line) for line in args.dump.read_text(encoding="utf-8").splitlines()]

    items: dict[tuple[str, str], tuple[int, np.ndarray]] = {}  # (question, sentence) -> (article, [v*q, v] per candidate)
    gold: list[tuple[int, str, str, set[str]]] = []
    for a in split_articles(len(articles), "tune"):
        for p in articles[a]["paragraphs"]:
            context = p["context"]
            spans = sentences(context)
            for qa in p["qas"]:
                at = qa["answers"][0]["answer_start"]
                where = next(((x, y) for x, y in spans if x <= at < y), None)
                if where is not None:
                    gold.append((a, qa["question"], context[where[0] : where[1]],
                                 {squad_normalize(g["text"]) for g in qa["answers"]}))
    asked = [(r["article"], r["question"], r["passages"][0]["sentence"]) for r in rows if r["found"] and r["passages"]]
    pairs = [(a, q, s) for a, q, s, _ in gold] + asked
    vectors = embedder.encode(sorted({q for _, q, _ in pairs}))
    question_vector = dict(zip(sorted({q for _, q, _ in pairs}), vectors))
    for n, (a, q, s) in enumerate(pairs):
        c = span.candidates(q, s)
        if c.spans and (q, s) not in items:
            v = candidate_vectors(encoder, s, c)
            items[(q, s)] = (a, np.hstack([v * question_vector[q], v]))
        if n % 2000 == 0:
            print(f"{n}/{len(pairs)} sentences encoded", file=sys.stderr)

    training = []  # (article, features, labels) of gold sentences, wrong candidates sampled
    for a, q, s, golds in gold:
        if (q, s) not in items:
            continue
        c = span.candidates(q, s)
        y = np.array([squad_normalize(c.text(s, k)) in golds for k in range(len(c.spans))])
        if y.any():
            wrong = np.flatnonzero(~y)
            rows_kept = np.sort(np.concatenate([np.flatnonzero(y), np.random.default_rng(len(training)).choice(
                wrong, min(len(wrong), NEGATIVES), replace=False)]))
            training.append((a, items[(q, s)][1][rows_kept], y[rows_kept], items[(q, s)][1], y))
    heads = {f: fit_head([(x, y) for a, x, y, _, _ in training if a % T.FOLDS != f]) for f in range(T.FOLDS)}
    alone = np.mean([bool(y_all[np.argmax(x_all @ heads[a % T.FOLDS])]) for a, _, _, x_all, y_all in training])
    print(f"the head alone, out of fold: its first candidate is a gold answer in {alone:.3f} of the gold sentences")

    def extra(question: str, sentence: str) -> list[list[str]] | None:
        if (question, sentence) not in items:
            return None
        a, x = items[(question, sentence)]
        scores = x @ heads[a % T.FOLDS]  # the head that never saw this article
        rank = np.empty(len(scores), int)
        rank[np.argsort(-scores)] = np.arange(len(scores))
        gap = np.clip(np.floor(scores - scores.max()), -6, 0).astype(int)
        return [[f"rdr:{min(int(r), 3)}", f"rdg:{int(g)}"] for r, g in zip(rank, gap)]

    plain = span.candidates

    def with_head(question, sentence):
        c = plain(question, sentence)
        more = extra(question, sentence)
        if more is not None and len(more) == len(c.spans):
            for k in range(len(c.spans)):
                c.rivals[k] = c.rivals[k] + more[k]
        return c

    span.candidates = with_head  # train_short_answer reads qa.span.candidates at call time
    _, _, _, shown = T.out_of_fold(articles, rows, 3.0, 3, log=print)
    import sklearn.ensemble as ensemble

    boosted = ensemble.GradientBoostingRegressor
    for seed in (0, 1, 2):
        ensemble.GradientBoostingRegressor = lambda **kw: boosted(**{**kw, "random_state": seed})  # noqa: B023
        points, folds = [], []
        for fold in range(T.FOLDS):
            model = T.fit_confidence([s for s in shown if s.article % T.FOLDS != fold])
            mine = [(T.confidence(s.features, model), s.exact, s.f1) for s in shown if s.article % T.FOLDS == fold]
            points += mine
            folds.append((mine, sum(1 for r in rows if r["article"] % T.FOLDS == fold)))
        top = sorted(points, key=lambda p: -p[0])[: round(0.30 * len(rows))]
        threshold = T.choose_threshold(folds, 0.30, 0.65, 0.75)
        print(f"seed {seed}: coverage 0.30: EM {sum(p[1] for p in top) / len(top):.4f}, F1 {sum(p[2] for p in top) / len(top):.4f}; "
              f"the rule's threshold: {T.curve(points, len(rows), [threshold])[0]}")


if __name__ == "__main__":
    main()
