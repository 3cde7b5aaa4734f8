"""Train the short-answer scorer (qa/span.py) on SQuAD v1.1 dev articles 1-24 only.

    python benchmarks/train_short_answer.py dump --split tune   # ask every question once -> JSONL in /tmp
    python benchmarks/train_short_answer.py train               # fit, choose the threshold -> qa/span_weights.json

`dump` asks each question of the split through `Index.ask()` over the whole 48-article `qa eval`
index and keeps what the span step sees: the first passages' highlighted sentences and scores.
`train` never asks again, so trying features costs seconds, not minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DUMPS = Path("/tmp/qa-short")


def dump(split: str, out: Path, limit: int | None, passages: int = 3) -> None:
    from qa import evaluate as ev
    from qa.settings import Settings

    settings = Settings()
    articles = ev.squad_articles()
    memo = ev.memo_for(settings)
    ix = ev.squad_index(settings, memo, articles, log=lambda m: print(m, file=sys.stderr))
    questions = ev.sample(ev.squad_questions(articles, ev.split_articles(len(articles), split)), limit)
    ev.prepare(ix, [q.text for q in questions], log=lambda m: print(m, file=sys.stderr))
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with out.open("w", encoding="utf-8") as f:
        for n, q in enumerate(questions, 1):
            answer = ix.ask(q.text, k=5)
            row = {
                "id": q.id, "article": q.article, "question": q.text, "answers": list(q.answers), "found": answer.found,
                "passages": [{"source": p.source, "sentence": p.answer, "sentence_start": p.answer_start,
                              "score": p.score} for p in answer.passages[:passages]],
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if n % 500 == 0:
                print(f"{n}/{len(questions)} asked ({(time.perf_counter() - started) / n * 1000:.1f} ms each)", file=sys.stderr)


# -- training ------------------------------------------------------------------------------------
FOLDS = 4  # articles 1-24 in four folds by article: the confidence model learns from held-out scores


class Table:
    """Candidates of many sentences as one sparse matrix (a row per candidate, a column per named
    feature), grouped by sentence; the feature names are shared by every table made with one `names`."""

    def __init__(self, names: dict[str, int]):
        self.names = names
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.labels: list[bool] = []
        self.starts: list[int] = []

    def add(self, features: list[list[str]], labels: list[bool]) -> None:
        self.starts.append(len(self.labels))
        for fs, label in zip(features, labels):
            row = len(self.labels)
            for f in fs:  # a feature named twice counts twice, as qa.span scores it
                self.rows.append(row)
                self.cols.append(self.names.setdefault(f, len(self.names)))
            self.labels.append(label)

    def matrix(self):
        import numpy as np
        from scipy import sparse

        return sparse.csr_matrix((np.ones(len(self.rows), np.float32), (self.rows, self.cols)),
                                 shape=(len(self.labels), len(self.names)))


@dataclass
class Asked:
    """A first passage of the dump, with its sentence's candidates."""

    article: int
    question: str
    answers: list[str]
    sentence: str
    score: float
    lead: float  # its score over the second passage's
    candidates: object  # qa.span.Candidates


def gold_sentences(articles: list[dict], keep: list[int], names: dict[str, int]) -> tuple[Table, list[int]]:
    """Each question's gold sentence (the one holding its first answer), its candidates labelled
    by exact match with any gold answer; questions with no matching candidate are left out.
    Returns the table and the article of each of its sentences."""
    from qa.evaluate import squad_normalize
    from qa.span import candidates
    from qa.text import sentences

    table, article_of = Table(names), []
    for a in keep:
        for p in articles[a]["paragraphs"]:
            context = p["context"]
            spans = sentences(context)
            for qa in p["qas"]:
                at = qa["answers"][0]["answer_start"]
                where = next(((x, y) for x, y in spans if x <= at < y), None)
                if where is None:
                    continue
                sentence = context[where[0] : where[1]]
                c = candidates(qa["question"], sentence)
                golds = {squad_normalize(g["text"]) for g in qa["answers"]}
                labels = [squad_normalize(c.text(sentence, k)) in golds for k in range(len(c.spans))]
                if any(labels):
                    table.add([c.features(k) for k in range(len(c.spans))], labels)
                    article_of.append(a)
    return table, article_of


def first_passages(rows: list[dict], names: dict[str, int]) -> tuple[Table, list[Asked]]:
    """The first passage's sentence of every question ask() answered (found), with its candidates."""
    from qa.span import candidates

    table, asked = Table(names), []
    for row in rows:
        if not row["found"] or not row["passages"]:
            continue
        p = row["passages"][0]
        c = candidates(row["question"], p["sentence"])
        if c.spans:
            table.add([c.features(k) for k in range(len(c.spans))], [False] * len(c.spans))
            after = row["passages"][1]["score"] if len(row["passages"]) > 1 else 0.0
            asked.append(Asked(row["article"], row["question"], row["answers"], p["sentence"], p["score"],
                               p["score"] - after, c))
    return table, asked


def _groups(starts, total: int):
    import numpy as np

    starts = np.asarray(starts)
    return starts, np.repeat(np.arange(len(starts)), np.diff(np.append(starts, total)))


def fit_scorer(X, labels, starts, l2: float, maxiter: int = 120):
    """Conditional logit over each sentence's candidates: maximise the probability of the gold ones.
    X is sparse (named features) or dense (benchmarks/token_reader_probe.py)."""
    import numpy as np
    from scipy import sparse
    from scipy.optimize import minimize

    y = np.asarray(labels, dtype=bool)
    starts, group = _groups(starts, X.shape[0])
    XT = X.T.tocsr() if sparse.issparse(X) else X.T

    def loss(w):
        s = X @ w
        e = np.exp(s - np.maximum.reduceat(s, starts)[group])
        z = np.add.reduceat(e, starts)
        ep = np.where(y, e, 0.0)
        zp = np.add.reduceat(ep, starts)
        value = float(np.sum(np.log(z) - np.log(zp))) + 0.5 * l2 * float(w @ w)
        return value, XT @ (e / z[group] - ep / zp[group]) + l2 * w

    return minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": maxiter}).x


def select(X, labels, starts, groups: list[int]):
    """The rows (and regrouped starts) of the chosen sentence groups."""
    import numpy as np

    bounds = list(starts) + [X.shape[0]]
    rows = np.concatenate([np.arange(bounds[g], bounds[g + 1]) for g in groups])
    new_starts = np.cumsum([0] + [bounds[g + 1] - bounds[g] for g in groups[:-1]])
    return X[rows], np.asarray(labels)[rows], new_starts


@dataclass
class Shown:
    """The best candidate of a first passage's sentence, as the confidence model sees it."""

    article: int
    question: str
    sentence: str
    prediction: str
    features: dict[str, float]
    exact: bool
    f1: float


def best_candidates(asked: list[Asked], X, starts, w) -> list[Shown]:
    from qa.evaluate import exact_match, f1
    from qa.span import Ranked, confidence_features

    scores = X @ w
    bounds = list(starts) + [X.shape[0]]
    out = []
    for k, a in enumerate(asked):
        mine = [float(x) for x in scores[bounds[k] : bounds[k + 1]]]
        ranked = Ranked(a.candidates, mine)
        best = max(range(len(mine)), key=mine.__getitem__)
        prediction = a.candidates.text(a.sentence, best)
        features = confidence_features(ranked, a.score, a.lead)
        out.append(Shown(a.article, a.question, a.sentence, prediction, features,
                         exact_match(prediction, a.answers), f1(prediction, a.answers)))
    return out


# The confidence: small boosted regression trees predicting the best candidate's F1 (out of fold,
# F1 as the label ranked the shown answers better than exact match did: a near miss is worth
# showing more than a wrong answer). Shipped as plain JSON trees, read by qa.span.calibrated.
TREES, DEPTH, RATE, LEAF = 150, 3, 0.05, 20


def fit_confidence(shown: list[Shown]) -> dict:
    import numpy as np
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.feature_extraction import DictVectorizer

    vec = DictVectorizer(sparse=False)
    X = vec.fit_transform([{k: v for k, v in s.features.items() if k != "bias"} for s in shown])
    y = np.array([s.f1 for s in shown])
    model = GradientBoostingRegressor(n_estimators=TREES, max_depth=DEPTH, learning_rate=RATE, min_samples_leaf=LEAF,
                                      subsample=0.8, random_state=0).fit(X, y)
    trees = []
    for (tree,) in model.estimators_:
        t = tree.tree_
        trees.append({"feature": [int(f) for f in t.feature], "threshold": [float(x) for x in t.threshold],
                      "left": [int(n) for n in t.children_left], "right": [int(n) for n in t.children_right],
                      "value": [round(float(v), 6) for v in t.value[:, 0, 0]]})
    out = {"names": list(vec.feature_names_), "base": float(model.init_.constant_[0][0]), "rate": RATE, "trees": trees}
    # the JSON trees must give what sklearn gives
    mine = np.array([confidence(s.features, out) for s in shown])
    gap = np.abs(mine - np.clip(model.predict(X), 0, 1))
    assert gap.max() < 1e-4, f"exported trees disagree on {(gap >= 1e-4).sum()} of {len(gap)} (max {gap.max():.4f})"
    return out


def confidence(features: dict[str, float], model: dict) -> float:
    from qa.span import calibrated

    return calibrated(features, model)


def curve(points: list[tuple[float, bool, float]], total: int, thresholds: list[float]) -> list[dict]:
    """Coverage (share of all questions with a short answer shown), EM and F1 where shown, per threshold."""
    out = []
    for t in thresholds:
        shown = [(e, f) for conf, e, f in points if conf >= t]
        n = len(shown)
        out.append({"threshold": t, "coverage": round(n / total, 4),
                    "exact_match": round(sum(e for e, _ in shown) / n, 4) if n else None,
                    "f1": round(sum(f for _, f in shown) / n, 4) if n else None})
    return out


def choose_threshold(folds: list[tuple[list, int]], coverage: float, em: float, f1: float) -> float:
    """The threshold whose worst margin over the targets (coverage, EM and F1 where shown), in its
    worst fold of articles, is the largest: the held-out articles are not calibrated like the
    tuning ones, and the folds of articles show by how much one set of articles can differ."""
    def worst(t: float) -> float:
        margins = []
        for mine, total in folds:
            (c,) = curve(mine, total, [t])
            if c["exact_match"] is None:
                return -1.0
            margins += [c["coverage"] - coverage, c["exact_match"] - em, c["f1"] - f1]
        return min(margins)

    return max((round(0.01 * i, 2) for i in range(100)), key=worst)


def out_of_fold(articles: list[dict], rows: list[dict], l2: float, min_count: int, log=print):
    """Scorer weights per fold, and every first passage's best candidate scored by the fold's
    scorer that never saw its article. Returns (names, column mask, gold table parts, shown)."""
    import numpy as np

    tune = sorted({r["article"] for r in rows})
    names: dict[str, int] = {}
    gold, gold_article = gold_sentences(articles, tune, names)
    dump, asked = first_passages(rows, names)
    Xg, Xd = gold.matrix(), dump.matrix()
    Xd.resize(Xd.shape[0], len(names))
    Xg.resize(Xg.shape[0], len(names))
    counts = np.asarray((Xg > 0).sum(axis=0)).ravel()
    keep = counts >= min_count  # features seen too rarely in training sentences get no weight
    Xg, Xd = Xg[:, keep], Xd[:, keep]
    log(f"{len(gold_article)} gold sentences, {Xg.shape[0]} candidates, {int(keep.sum())} features; "
        f"{len(asked)} first passages")
    shown: list[Shown] = []
    bounds = list(dump.starts)
    for fold in range(FOLDS):
        train_groups = [g for g, a in enumerate(gold_article) if a % FOLDS != fold]
        w = fit_scorer(*select(Xg, gold.labels, gold.starts, train_groups), l2)
        mine = [k for k, a in enumerate(asked) if a.article % FOLDS == fold]
        Xf, _, starts = select(Xd, dump.labels, bounds, mine)
        part = best_candidates([asked[k] for k in mine], Xf, starts, w)
        shown += part
        log(f"fold {fold}: best candidate EM {sum(s.exact for s in part) / len(part):.3f}, "
            f"F1 {sum(s.f1 for s in part) / len(part):.3f} on {len(part)} first passages")
    return names, keep, (Xg, gold.labels, gold.starts), shown


def train(dump_file: Path, out: Path, l2: float, min_count: int, target_em: float, target_f1: float,
          target_coverage: float) -> None:
    from qa.evaluate import split_articles, squad_articles

    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    articles = squad_articles()
    tune = split_articles(len(articles), "tune")
    rows = [json.loads(line) for line in dump_file.read_text(encoding="utf-8").splitlines()]
    assert {r["article"] for r in rows} <= set(tune), "the dump must hold SQuAD articles 1-24 only"
    names, keep, gold, shown = out_of_fold(articles, rows, l2, min_count, log)
    # The threshold is read off confidences the confidence model did not fit either.
    points, folds = [], []
    for fold in range(FOLDS):
        weights = fit_confidence([s for s in shown if s.article % FOLDS != fold])
        mine = [(confidence(s.features, weights), s.exact, s.f1) for s in shown if s.article % FOLDS == fold]
        points += mine
        folds.append((mine, sum(1 for r in rows if r["article"] % FOLDS == fold)))
    chosen = choose_threshold(folds, target_coverage, target_em, target_f1)
    chosen = {**curve(points, len(rows), [chosen])[0],
              "folds": [curve(mine, total, [chosen])[0] for mine, total in folds]}
    ranked = sorted(points, key=lambda p: -p[0])[: round(0.30 * len(rows))]
    log(f"out of fold at coverage 0.30: EM {sum(p[1] for p in ranked) / len(ranked):.4f}, "
        f"F1 {sum(p[2] for p in ranked) / len(ranked):.4f}")
    tune_curve = curve(points, len(rows), [round(0.05 * i, 2) for i in range(20)])
    for c in tune_curve:
        log(str(c))
    log(f"chosen: {chosen}")
    fine = curve(points, len(rows), [round(0.01 * i, 2) for i in range(100)])
    old_rule = [c for c in fine if c["exact_match"] and c["exact_match"] >= 0.68 and c["f1"] >= 0.76]
    log(f"(the earlier rule, widest coverage with EM >= 0.68 and F1 >= 0.76: {max(old_rule, key=lambda c: c['coverage'], default=None)})")

    Xg, labels, starts = gold
    w = fit_scorer(Xg, labels, starts, l2)
    kept_names = [name for name, i in sorted(names.items(), key=lambda kv: kv[1]) if keep[i]]
    scorer = {name: round(float(x), 3) for name, x in zip(kept_names, w) if abs(x) >= 0.005}
    data = {
        "about": "qa.span short-answer weights, trained on SQuAD v1.1 dev articles 1-24 by benchmarks/train_short_answer.py",
        "training": {"articles": "1-24", "gold_sentences": len(starts), "first_passages": len(shown),
                     "l2": l2, "min_count": min_count, "target_exact_match": target_em, "target_f1": target_f1,
                     "target_coverage": target_coverage,
                     "chosen_out_of_fold": chosen, "curve_out_of_fold": tune_curve},
        "threshold": chosen["threshold"],
        "confidence": fit_confidence(shown),
        "features": dict(sorted(scorer.items())),
    }
    out.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    log(f"wrote {out}: {len(scorer)} weights, threshold {chosen['threshold']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="ask every question of a split once; write the first passages as JSONL")
    d.add_argument("--split", default="tune", choices=["tune", "test"])
    d.add_argument("--limit", type=int, default=None)
    d.add_argument("--out", type=Path, default=None)
    t = sub.add_parser("train", help="fit the scorer and the confidence on a tune dump; write the weights")
    t.add_argument("--dump", type=Path, default=DUMPS / "tune.jsonl")
    t.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "qa" / "span_weights.json")
    t.add_argument("--l2", type=float, default=3.0)
    t.add_argument("--min-count", type=int, default=3)
    # The targets (on articles 25-48): coverage 0.30, EM 0.65 and F1 0.75 where shown.
    t.add_argument("--target-em", type=float, default=0.65, help="exact match where shown, the target")
    t.add_argument("--target-f1", type=float, default=0.75, help="F1 where shown, the target")
    t.add_argument("--target-coverage", type=float, default=0.30, help="share of questions shown, the target")
    args = ap.parse_args()
    if args.command == "dump":
        dump(args.split, args.out or DUMPS / f"{args.split}.jsonl", args.limit)
    else:
        train(args.dump, args.out, args.l2, args.min_count, args.target_em, args.target_f1, args.target_coverage)


if __name__ == "__main__":
    main()
