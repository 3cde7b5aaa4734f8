"""The short answer inside the highlighted sentence: "16.4" for "What was the average caseload…?".

No reader model: the question is typed (a count, money, a date, a person…), every plausible span
of the sentence is a candidate (numbers with their units, dates, capitalised names, quoted titles,
runs of content words), and a linear scorer trained on SQuAD dev articles 1–24 only
(benchmarks/train_short_answer.py, weights as plain JSON in qa/span_weights.json) scores them by
type fit, by closeness to the question's words in the sentence and by not repeating the question.
A second small model (boosted regression trees, plain JSON too) turns the best candidate's margin,
the candidates' agreement, the question type and the sentence's own score into a confidence (the
F1 to expect); below the threshold (chosen on the same articles) there is no short answer.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import struct
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from qa.answer import Passage
from qa.errors import InvalidInput
from qa.settings import ShortAnswerSettings

WEIGHTS_FILE = Path(__file__).resolve().parent / "span_weights.json"

# -- tokens ----------------------------------------------------------------------------------------
# Numbers keep their inner separators and a short suffix ("2,700", "16.4", "1990s", "5th", "£1.4m");
# words keep inner hyphens, apostrophes and dots ("long-term", "O'Brien", "U.S"); anything else
# that is not a space is a token of its own.
_TOKEN = re.compile(r"\d+(?:[.,:/]\d+)*(?:st|nd|rd|th|s|m|bn|k|km|kg|cm|mm)?(?![^\W_])|[^\W_]+(?:[-'’&.][^\W_]+)*|[^\w\s]")

FUNCTION_WORDS = frozenset(
    """a an the this that these those some any each every no all both either neither another such
    of in on at by for with from to into onto upon over under about above below between among
    through during before after since until till against within without across along around
    behind beyond near off out up down toward towards via per than as like unlike despite
    and or but nor so yet if then because while whereas although though unless whether
    i me my mine we us our you your he him his she her it its they them their theirs who whom whose
    which what where when why how there here
    is are was were be been being am do does did done has have had having will would shall should
    can could may might must not also only just very too more most less least much many
    s 's ’s""".split()
)
_MONTHS = frozenset(
    """january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)
_NUMBER_WORDS = frozenset(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
    hundred hundreds thousand thousands million millions billion billions trillion dozen dozens
    half quarter third first second""".split()
)
_CURRENCY = frozenset("£ $ € ¥ dollars dollar pounds pound euros euro yen usd gbp eur".split())
_SCALE = frozenset("million millions billion billions trillion m bn thousand hundred".split())
_DURATION = frozenset("""second seconds minute minutes hour hours day days week weeks month months year years
    decade decades century centuries""".split())
_UNITS = frozenset("""km kilometres kilometers metres meters miles mile feet foot ft inches inch m cm mm kg
    tonnes tons pounds lb acres hectares degrees mph percent per cent""".split())
_PUNCT_INSIDE = frozenset("- – & ' ’ . /".split())  # may stand inside a candidate ("1939–45", "AT&T")
_OPEN_QUOTES = frozenset("\" “ ‘ '".split())
_CLOSE_QUOTES = frozenset("\" ” ’ '".split())


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str
    lower: str
    stem: str
    kind: str  # "num", "cap", "word", "func", "punct"


def _stems(words: list[str]) -> list[str]:
    from qa.text import _stem

    return _stem(words)


# British spellings matched as American ones ("in favour" answers "in favor"): the stems only.
_BRITISH = re.compile(r"^(colo|favo|hono|labo|behavio|neighbo|harbo|humo|rumo|vapo|vigo|armo|flavo|endeavo|savo)ur")
_BRITISH_ISE = re.compile(r"^(organ|recogn|real|author|civil|character|global|industrial|modern|special|standard|util|critic|apolog|emphas|minim|maxim|symbol|colon|capital|national|central|privat|legal|stabil|mobil|optim|summar|categor|priorit|visual|memor|harmon|fertil|neutral|normal|union|urban)is(e|es|ed|ing|ation|ations)$")


@lru_cache(maxsize=8192)
def _american(word: str) -> str:
    word = _BRITISH.sub(r"\1r", word)
    word = _BRITISH_ISE.sub(r"\1iz\2", word)
    return {"centre": "center", "centres": "centers", "metre": "meter", "metres": "meters", "theatre": "theater",
            "theatres": "theaters", "defence": "defense", "offence": "offense", "licence": "license",
            "programme": "program", "programmes": "programs", "grey": "gray", "tyre": "tire", "fibre": "fiber",
            "litre": "liter", "litres": "liters", "catalogue": "catalog", "analyse": "analyze", "paralyse": "paralyze"}.get(word, word)


# Words that open a sentence with a capital without being names ("Hence …", "Late outbreaks …",
# "Others are …"): sentence adverbs, connectives, ordinals and quantifiers of English.
_OPENERS = frozenset(
    """however hence thus therefore further furthermore moreover even instead indeed still later earlier late
    early meanwhile nevertheless nonetheless consequently accordingly additionally finally firstly secondly
    thirdly lastly first second third fourth fifth next then initially originally eventually subsequently
    similarly likewise otherwise today currently recently previously traditionally historically generally
    typically usually often sometimes others other many most several few highly stated overall together
    although though despite whereas while unlike like according given due following including
    during after before since until once upon notably especially particularly specifically rather perhaps
    certainly clearly apparently unfortunately fortunately ultimately alternatively conversely
    one two three four five six seven eight nine ten""".split()
)


def tokenize(sentence: str) -> list[Token]:
    matches = list(_TOKEN.finditer(sentence))
    lowers = [m.group(0).lower().replace("’", "'") for m in matches]
    stems = _stems([_american(w[:-2] if w.endswith("'s") else w) for w in lowers])
    out = []
    for m, low, stem in zip(matches, lowers, stems):
        text = m.group(0)
        if not text[0].isalnum():
            kind = "punct"
        elif text[0].isdigit():
            kind = "num"
        elif low in FUNCTION_WORDS and not (low in _MONTHS and text[0].isupper() and m.start() > 0):
            kind = "func"  # "may" is a function word, "May" after a sentence's first word a month
        elif text[0].isupper() and (out or low not in _OPENERS):  # not a name when it opens the sentence
            kind = "cap"
        else:
            kind = "word"
        out.append(Token(m.start(), m.end(), text, low, stem, kind))
    return out


MAX_TOKENS = 8  # longer answers are rare among the ones a reader can be sure of
MAX_QUOTED = 16


# Words that open a quantity's span ("nearly 60,000", "from 1562 to 1598", "more than 20").
_QUANTITY_OPENERS = frozenset("about around approximately nearly almost over under roughly some between from more less fewer at up only just circa".split())


def candidate_spans(tokens: list[Token]) -> list[tuple[int, int]]:
    """(first, last) token indices of every span that could be an answer: it starts and ends on a
    content word or number (or a currency or per cent sign), and holds no clause punctuation,
    except a comma inside a date ("June 5, 2010"). A quantity may open with a word such as
    "nearly" or "between"; the words between quotes make one candidate whatever their length."""
    n = len(tokens)
    spans: dict[tuple[int, int], None] = {}
    for i, t in enumerate(tokens):
        opener = t.lower in _QUANTITY_OPENERS
        if not (t.kind in ("num", "cap", "word") or t.text in _CURRENCY or opener):
            continue
        numeric = False
        for j in range(i, min(n, i + MAX_TOKENS)):
            u = tokens[j]
            numeric = numeric or (j > i and u.kind == "num")
            if j == i and (u.kind == "punct" or opener):  # "£1.4m", "nearly 60,000"
                continue
            if u.kind == "punct":
                if u.text == "%":
                    spans[(i, j)] = None
                    continue
                if u.text == "," and 0 < j < n - 1 and tokens[j - 1].kind == "num" and _is_year(tokens[j + 1].text):
                    continue  # "June 5, 2010"
                if u.text not in _PUNCT_INSIDE or j == n - 1:
                    break
                continue
            if u.kind != "func" and (numeric or not opener):
                spans[(i, j)] = None
    for i, t in enumerate(tokens):  # "Dublin, Cork, Youghal and Waterford": a list's commas join
        if t.kind in ("cap", "word", "num"):
            spans.update(dict.fromkeys(_list_spans(tokens, i)))
    for i, t in enumerate(tokens):  # "…his poem “The Waste Land”…": the title between the quotes
        if t.text in _OPEN_QUOTES:
            for j in range(i + 2, min(n, i + MAX_QUOTED + 2)):
                if tokens[j].text in _CLOSE_QUOTES:
                    spans[(i + 1, j - 1)] = None
                    break
    return list(spans)


_IN_NAMES = frozenset("the of de la".split())  # function words inside an item ("the Åland islands")
MAX_LIST = 16  # tokens of a list candidate
MAX_ITEM = 4  # tokens of one of its items


def _list_spans(tokens: list[Token], i: int) -> list[tuple[int, int]]:
    """Spans from token i over a list whose items (up to MAX_ITEM tokens) are joined by commas
    and a last "and"/"or": each ends on a content word of the last item."""
    out: list[tuple[int, int]] = []
    commas = item = 0
    last_joined = False
    for j in range(i, min(len(tokens), i + MAX_LIST)):
        u = tokens[j]
        if u.text == ",":
            if last_joined or j + 1 >= len(tokens):
                break
            commas, item = commas + 1, 0
            continue
        if u.kind == "punct" and u.text not in _PUNCT_INSIDE:
            break
        if u.lower in ("and", "or") and commas:
            if last_joined:
                break
            last_joined, item = True, 0
            continue
        if u.kind == "func" and u.lower not in _IN_NAMES:  # "…in the 17th": the list has ended
            break
        item += 1
        if item > MAX_ITEM:
            break
        if last_joined and u.kind in ("cap", "word", "num"):
            out.append((i, j))
    return out


def _is_year(text: str) -> bool:
    return len(text) == 4 and text.isdigit() and 1000 <= int(text) <= 2199


# -- the question ----------------------------------------------------------------------------------
# What a question's focus word ("what YEAR", "which TEAM") says about the kind of answer.
_FOCUS_KINDS = {
    "date": "year years date dates day days month months century centuries decade decades time era period season when".split(),
    "percent": "percentage percent proportion share fraction rate".split(),
    "count": "number amount many total count average size population score figure level".split(),
    "money": "cost price money sum budget salary revenue worth fee fine".split(),
    "person": """person people man woman men women president king queen leader author writer player coach
        director minister emperor pope scientist artist architect founder inventor chairman ceo son daughter
        father mother wife husband general bishop student professor inspector official officer councillor
        member manager governor mayor senator judge poet composer painter philosopher engineer physicist
        chemist actor singer quarterback who whom whose""".split(),
    "place": """city cities country countries state states place places region regions continent town area
        county river island location province district street building nation capital where""".split(),
    "org": """company companies organization organisation team teams group university party band agency
        institution network church club school college firm league government body court""".split(),
    "title": "name title book film movie song album novel poem play show series treaty award magazine newspaper".split(),
}
_FOCUS_KIND = {w: kind for kind, words in _FOCUS_KINDS.items() for w in words}
_GENERIC_FOCUS = frozenset("type types kind kinds sort sorts form forms part parts one ones".split())
_MONEY_WORDS = frozenset("cost costs costing paid pay pays spend spent spending price worth earn earned budget fund funds funded money invest invested £ $ €".split())
_HOW = {"many": "count", "much": "amount", "long": "duration", "old": "age", "far": "measure", "tall": "measure",
        "high": "measure", "big": "measure", "large": "measure", "deep": "measure", "wide": "measure",
        "fast": "measure", "often": "frequency", "heavy": "measure", "early": "date", "late": "date"}
_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.I)
NUMERIC_KINDS = frozenset("count amount money percent duration age measure".split())


@dataclass(frozen=True)
class QuestionInfo:
    wh: str  # "what", "how many", "when", … ("" when the question has no wh-word)
    focus: str  # the word the wh-word asks about ("year" in "In what year…"), lower case, or ""
    kind: str  # the coarse answer type: count, amount, money, percent, duration, age, measure, date,
    #            person, place, org, title, reason, manner, thing
    stems: frozenset[str]  # stems of the question's content words
    after_wh: frozenset[str]  # those of them that come after the wh-word
    wh_next: str = ""  # stem of the content word right after the wh phrase ("recovered" in "Who recovered…")
    wh_prev: str = ""  # stem of the content word right before the wh-word ("beat" in "…beat which team?")
    names: frozenset[str] = frozenset()  # stems of its names and numbers ("Tesla", "1931"), past its first word


def read_question(question: str) -> QuestionInfo:
    tokens = tokenize(question)
    lowers = [t.lower for t in tokens]
    at = next((i for i, t in enumerate(tokens) if _WH.fullmatch(t.lower)), None)
    wh, focus = "", ""
    if at is not None:
        wh = lowers[at]
        nxt = lowers[at + 1] if at + 1 < len(tokens) else ""
        if wh == "how" and nxt in _HOW:
            wh = f"how {nxt}"
        elif wh in ("what", "which", "whose"):
            focus = _focus(tokens, at + 1)
        elif wh == "how" and at + 1 < len(tokens) and tokens[at + 1].kind in ("word", "cap"):
            focus = nxt
        if wh in ("how many", "how much") and at + 2 < len(tokens) and tokens[at + 2].kind in ("word", "cap"):
            focus = lowers[at + 2]
    kind = _kind(wh, focus, lowers)
    content = [t for t in tokens if t.kind in ("word", "cap", "num") and not _WH.fullmatch(t.lower)]
    stems = frozenset(t.stem for t in content)
    after = frozenset(t.stem for t in content if at is not None and t.start > tokens[at].start)
    wh_next = wh_prev = ""
    if at is not None:
        skip = at + len(wh.split())
        if focus and focus in lowers[skip : skip + 6]:
            skip = lowers.index(focus, skip) + 1
        nxt = next((t for t in tokens[skip:] if t.kind != "func"), None)
        wh_next = nxt.stem if nxt is not None and nxt.kind in ("word", "cap", "num") else ""
        prev = next((t for t in reversed(tokens[:at]) if t.kind != "func"), None)
        wh_prev = prev.stem if prev is not None and prev.kind in ("word", "cap", "num") else ""
    names = frozenset(t.stem for k, t in enumerate(tokens) if k > 0 and t.kind in ("cap", "num") and not _WH.fullmatch(t.lower))
    return QuestionInfo(wh, focus, kind, stems, after, wh_next, wh_prev, names)


_COPULAS = frozenset("is was are were".split())
_DETERMINERS = frozenset("the a an".split())


def _focus(tokens: list[Token], at: int) -> str:
    """The word a "what"/"which" asks about: "year" in "what year…", "building" in "what type of
    building…", "caseload" in "what was the average caseload…" (the last word of the phrase
    after a copula and an article; a known answer-type word wins wherever it stands)."""
    lowers = [t.lower for t in tokens]
    after_copula = at + 1 < len(tokens) and lowers[at] in _COPULAS and lowers[at + 1] in _DETERMINERS
    k = at + 2 if after_copula else at
    run = []
    while k < len(tokens) and tokens[k].kind in ("word", "cap") and len(run) < 4:
        run.append(lowers[k])
        k += 1
    if not run:
        return ""
    if run[0] in _GENERIC_FOCUS and k + 1 < len(tokens) and lowers[k] == "of" and tokens[k + 1].kind in ("word", "cap"):
        return lowers[k + 1]  # "what type of building": the word after "of" says more than "type"
    known = [w for w in run if w in _FOCUS_KIND or w.rstrip("s") in _FOCUS_KIND]
    if known:
        return known[0]
    return run[-1] if after_copula else run[0]


def _kind(wh: str, focus: str, lowers: list[str]) -> str:
    if wh == "how much":
        return "money" if focus in _MONEY_WORDS or any(w in _MONEY_WORDS for w in lowers) else "amount"
    if wh == "how many":
        return "duration" if focus in _DURATION else "count"
    if wh.startswith("how "):
        return _HOW[wh.split()[1]]
    if wh == "how":
        return "manner"
    if wh == "when":
        return "date"
    if wh in ("who", "whom"):
        return "person"
    if wh == "where":
        return "place"
    if wh == "why":
        return "reason"
    if focus and focus.rstrip("s") in _FOCUS_KIND:
        return _FOCUS_KIND[focus.rstrip("s")]
    return _FOCUS_KIND.get(focus, "thing")


# -- what a candidate looks like, and where it stands ----------------------------------------------
def _bucket(d: int) -> str:
    return str(d) if d <= 3 else "4-5" if d <= 5 else "6-9" if d <= 9 else "10+"


_BREAKS = frozenset(", ; : ( ) — –".split())
_JOINERS = frozenset("to and - – or".split())
_LENGTH_TAGS = ("", "len1", "len2", "len3", "len4", "len5+", "len5+", "len7+")
_FLAGS = ("digit", "numword", "year", "month", "currency", "percent", "duration", "unit", "scale", "joiner",
          "cap", "word", "func", "content", "matched", "matched_after", "matched_before", "focus", "break", "comma")


class Sentence:
    """One sentence read for one question: every token's flags as running counts, so that what a
    candidate span looks like and where it stands take the same few lookups whatever its length.

    A candidate's named features are those of its first token's side (`start`), of its last
    token's side (`end`), of its shape tags (`tag`) and of the span as a whole (`own`); `score`
    sums their weights with the first three cached, which keeps a sentence's ~60 candidates
    within a millisecond or two."""

    def __init__(self, q: QuestionInfo, tokens: list[Token]):
        self.q, self.tokens = q, tokens
        focus = q.focus.rstrip("s")
        counts = {f: [0] for f in _FLAGS}
        for k, t in enumerate(tokens):
            low = t.lower
            content = t.kind in ("word", "cap", "num")
            matched = content and t.stem in q.stems
            flags = {
                "digit": t.kind == "num",
                "numword": low in _NUMBER_WORDS,
                "year": _is_year(t.text) or (t.text.endswith("s") and _is_year(t.text[:-1])),
                "month": low in _MONTHS,
                "currency": low in _CURRENCY,
                "percent": low in ("%", "percent") or (low == "cent" and k > 0 and tokens[k - 1].lower == "per"),
                "duration": low in _DURATION,
                "unit": low in _UNITS,
                "scale": low in _SCALE,
                "joiner": low in _JOINERS,
                "cap": t.kind == "cap",
                "word": t.kind == "word",
                "func": t.kind == "func",
                "content": content,
                "matched": matched,
                "matched_after": matched and t.stem in q.after_wh,
                "matched_before": matched and t.stem not in q.after_wh,
                "focus": bool(focus) and low.rstrip("s") == focus,
                "break": t.text in _BREAKS,
                "comma": t.text == ",",
            }
            for f in _FLAGS:
                counts[f].append(counts[f][-1] + flags[f])
        self.counts = counts
        self.matched = [k for k, t in enumerate(tokens) if t.kind in ("word", "cap", "num") and t.stem in q.stems]
        self._start: dict[int, list[str]] = {}
        self._end: dict[int, list[str]] = {}
        self._tag: dict[str, list[str]] = {}
        self._sums: dict[tuple[str, object], float] = {}

    def count(self, flag: str, i: int, j: int) -> int:
        """How many of tokens[i..j] (inclusive; empty when j < i) have the flag."""
        c = self.counts[flag]
        return c[j + 1] - c[i] if j >= i else 0

    def shape(self, i: int, j: int) -> list[str]:
        k = self.counts  # running counts: how many of tokens[i..j] have a flag is k[flag][j + 1] - k[flag][i]
        a, b = i, j + 1
        digits = k["digit"][b] - k["digit"][a]
        has_num = digits > 0 or k["numword"][b] - k["numword"][a] > 0
        caps, lowers = k["cap"][b] - k["cap"][a], k["word"][b] - k["word"][a]
        tags = []
        if digits:
            tags.append("digit")
        if k["year"][b] - k["year"][a]:
            tags.append("year")
        if k["month"][b] - k["month"][a]:
            tags.append("month")
        if has_num:
            tags.append("num")
            for flag in ("duration", "unit", "scale"):
                if k[flag][b] - k[flag][a]:
                    tags.append(flag)
        if k["currency"][b] - k["currency"][a]:
            tags.append("money")
        if k["percent"][b] - k["percent"][a]:
            tags.append("percent")
        if digits >= 2 and k["joiner"][b] - k["joiner"][a]:
            tags.append("range")
        if k["comma"][b] - k["comma"][a] and not k["year"][b] - k["year"][a]:
            tags.append("list")
        tokens = self.tokens
        if tokens[i].lower in _QUANTITY_OPENERS:
            tags.append("approx")
        if caps and not lowers:
            tags.append("allcap")
        elif caps:
            tags.append("somecap")
        elif lowers and not has_num:
            tags.append("lower")
        if not caps + lowers and has_num:
            tags.append("pure_num")
        if k["func"][b] - k["func"][a]:
            tags.append("func_inside")
        if 0 < i and j + 1 < len(tokens) and tokens[i - 1].text in _OPEN_QUOTES and tokens[j + 1].text in _CLOSE_QUOTES:
            tags.append("quoted")
        if 0 < i and tokens[i - 1].text == "(":
            tags.append("paren")
        if i == 0:
            tags.append("first")
        n = j - i + 1
        tags.append(_LENGTH_TAGS[min(n, 7)])
        return tags

    def start(self, i: int) -> list[str]:
        """Features of the candidate's left edge: the word before it, its first word, the
        question's words just before it."""
        if i not in self._start:
            q, tokens, kind = self.q, self.tokens, self.q.kind
            left = tokens[i - 1].lower if i > 0 else "<s>"
            first = tokens[i]
            near = len({tokens[m].stem for m in self.matched if i - 4 <= m < i})
            feats = [f"l:{left}", f"kl:{kind}:{left}", f"kf:{kind}:{first.lower}", f"wl:{min(near, 3)}",
                     f"kwl:{kind}:{min(near, 3)}"]
            # the kinds of tokens on both sides of the edge: a span that cuts a number phrase
            # ("one | hundred") or a name in two shows it here
            feats.append(f"ec:{kind}:{self._class(i - 1)}:{self._class(i)}")
            if first.kind == "word":  # word endings stand in for parts of speech ("-tion", "-ed", "-ly")
                feats.append(f"kp3:{kind}:{first.lower[-3:]}")
            if i > 0 and self.count("focus", i - 1, i - 1):
                feats.append("focus_left")
            if i > 0 and self.count("matched", i - 1, i - 1):
                feats.append(f"lm:{kind}")
            # "…beat which team?" / "…beat the Panthers": the question's word before its wh-word
            # stands just before the answer.
            if q.wh_prev:
                d = next((i - m for m in range(i - 1, max(-1, i - 8), -1) if tokens[m].stem == q.wh_prev), None)
                if d is not None:
                    feats.append(f"whp:{kind}:{_bucket(d)}")
            self._start[i] = feats
        return self._start[i]

    def end(self, j: int) -> list[str]:
        """Features of the candidate's right edge, as `start` for the left one."""
        if j not in self._end:
            q, tokens, kind = self.q, self.tokens, self.q.kind
            right = tokens[j + 1].lower if j + 1 < len(tokens) else "</s>"
            last = tokens[j]
            near = len({tokens[m].stem for m in self.matched if j < m <= j + 4})
            feats = [f"r:{right}", f"kr:{kind}:{right}", f"kw:{kind}:{last.lower}", f"wr:{min(near, 3)}",
                     f"kwr:{kind}:{min(near, 3)}"]
            feats.append(f"ee:{kind}:{self._class(j)}:{self._class(j + 1)}")
            if last.kind == "word":
                feats.append(f"ks3:{kind}:{last.lower[-3:]}")
            if j + 1 < len(tokens) and self.count("focus", j + 1, j + 1):
                feats.append("focus_right")
            if j + 1 < len(tokens) and self.count("matched", j + 1, j + 1):
                feats.append(f"rm:{kind}")
            # "Who recovered the fumble?" / "…Trevathan recovered it": the question's word after
            # its wh-word stands just after the answer.
            if q.wh_next:
                d = next((m - j for m in range(j + 1, min(len(tokens), j + 8)) if tokens[m].stem == q.wh_next), None)
                if d is not None:
                    feats.append(f"whn:{kind}:{_bucket(d)}")
            self._end[j] = feats
        return self._end[j]

    def _class(self, k: int) -> str:
        """A token's kind for the edge features, number words apart ("two thousand")."""
        if k < 0 or k >= len(self.tokens):
            return "edge"
        t = self.tokens[k]
        return "numw" if t.lower in _NUMBER_WORDS else t.kind

    def distance(self, i: int, j: int) -> int | None:
        """Tokens between the span and the nearest of the question's words outside it (None: none)."""
        where = self.matched
        at = bisect.bisect_left(where, i)
        before = i - where[at - 1] if at > 0 else None
        at = bisect.bisect_right(where, j)
        after = where[at] - j if at < len(where) else None
        return min((d for d in (before, after) if d is not None), default=None)

    def tag(self, tag: str) -> list[str]:
        """Features of one shape tag: alone, with the answer kind, the wh-word and the focus word."""
        if tag not in self._tag:
            q = self.q
            feats = [f"s:{tag}", f"ks:{q.kind}:{tag}", f"ws:{q.wh or 'none'}:{tag}"]
            if q.focus and not tag.startswith("len"):
                feats.append(f"fs:{q.focus}:{tag}")
            if tag == "list":  # "What Irish cities…" asks for several
                plural = len(q.focus) > 3 and q.focus.endswith("s") and not q.focus.endswith("ss")
                feats.append(f"pl:{q.kind}:{plural}")
            self._tag[tag] = feats
        return self._tag[tag]

    def own(self, i: int, j: int) -> list[str]:
        """Features of the span as a whole: does it repeat the question, how close it stands to
        the question's words in the sentence, on which side, and in the same clause or not."""
        k, kind, n = self.counts, self.q.kind, len(self.tokens)
        matched = k["matched"]
        left_kind = self.tokens[i - 1].kind if i > 0 else "start"
        right_kind = self.tokens[j + 1].kind if j + 1 < n else "end"
        repeated, content = matched[j + 1] - matched[i], k["content"][j + 1] - k["content"][i]
        overlap = "none" if not repeated else "all" if repeated == content else "some"
        feats = [f"kb:{kind}:{left_kind}:{right_kind}", f"o:{overlap}", f"ko:{kind}:{overlap}"]
        if k["focus"][j + 1] - k["focus"][i]:
            feats.append("focus_in")
        left, right = matched[i], matched[n] - matched[j + 1]
        if not left + right:
            feats.append("d:none")
            return feats
        # the nearest of the question's words on each side, and the clause punctuation between
        where = self.matched
        at = bisect.bisect_left(where, i)
        before = where[at - 1] if left else None
        after = where[bisect.bisect_right(where, j)] if right else None
        breaks = k["break"]
        if before is not None and (after is None or i - before <= after - j):
            d, cut = i - before, breaks[i] - breaks[before + 1]
        else:
            d, cut = after - j, breaks[after] - breaks[j + 1]
        near = matched[i] - matched[max(0, i - 4)] + matched[min(n, j + 5)] - matched[j + 1]
        share = (k["matched_before"][i] + k["matched_after"][n] - k["matched_after"][j + 1]) / (left + right)
        d = _bucket(d)
        order = "hi" if share >= 0.75 else "mid" if share >= 0.4 else "lo"
        side = "left" if not right else "right" if not left else "both"
        feats += [f"kbr:{kind}:{min(cut, 2)}", f"d:{d}", f"kd:{kind}:{d}", f"near:{min(near, 4)}", f"order:{order}",
                  f"side:{side}", f"kdo:{kind}:{d}:{order}", f"kso:{kind}:{side}:{order}:{min(near, 2)}"]
        return feats

    def features(self, i: int, j: int, tags: list[str]) -> list[str]:
        out = self.start(i) + self.end(j) + self.own(i, j)
        for t in tags:
            out += self.tag(t)
        return out

    def score(self, i: int, j: int, tags: list[str], weights: dict[str, float]) -> float:
        total = self._sum(("s", i), self.start, i, weights) + self._sum(("e", j), self.end, j, weights)
        for t in tags:
            total += self._sum(("t", t), self.tag, t, weights)
        return total + sum(weights.get(f, 0.0) for f in self.own(i, j))

    def _sum(self, key, part, arg, weights: dict[str, float]) -> float:
        if key not in self._sums:
            self._sums[key] = sum(weights.get(f, 0.0) for f in part(arg))
        return self._sums[key]


# -- scoring -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Span:
    """A short answer: sentence[start:end] == text; confidence in [0, 1]."""

    text: str
    start: int
    end: int
    confidence: float


@dataclass(frozen=True)
class Weights:
    features: dict[str, float]  # candidate scorer: named feature -> weight
    confidence: dict  # confidence model: boosted trees, or named feature -> weight (see `calibrated`)
    threshold: float  # the confidence from which a short answer is shown (chosen on SQuAD articles 1-24)

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> "Weights":
        data = json.loads(path.read_text(encoding="utf-8"))
        confidence = data["confidence"]
        if "trees" in confidence:  # where each feature goes in the trees' input, once
            confidence["index"] = {name: k for k, name in enumerate(confidence["names"])}
        return cls(data["features"], confidence, float(data["threshold"]))


@lru_cache(maxsize=4)
def load_weights(path: str = "") -> Weights:
    """The weights in a file written by benchmarks/train_short_answer.py ("": the shipped ones)."""
    try:
        return Weights.load(Path(path) if path else WEIGHTS_FILE)
    except (OSError, ValueError, KeyError) as e:
        raise InvalidInput(f"short-answer weights {path or WEIGHTS_FILE} cannot be read: {e}") from e


def required(kind: str, shape: list[str], focus: str = "") -> bool:
    """Whether a candidate of this shape can answer a question of this kind at all: a count, an
    amount, money or a duration is a number; a date holds a year, a month or a number, and the
    answer to "in what year" holds a year (not "58" of "58 cm", nor "50th")."""
    if kind in NUMERIC_KINDS:
        return "num" in shape
    if kind == "date" and focus == "year":
        return "year" in shape
    if kind == "date":
        return "year" in shape or "month" in shape or "num" in shape
    return True


@dataclass(frozen=True)
class Candidates:
    """The candidate spans of one sentence for one question, with their shapes."""

    question: QuestionInfo
    sentence: Sentence
    spans: list[tuple[int, int]]  # (first, last) token index
    shapes: list[list[str]]
    matched_share: float  # share of the question's content words the sentence holds
    rivals: list[list[str]]  # features of each candidate against the others of its sort

    @property
    def tokens(self) -> list[Token]:
        return self.sentence.tokens

    def text(self, sentence: str, k: int) -> str:
        i, j = self.spans[k]
        return sentence[self.tokens[i].start : self.tokens[j].end]

    def features(self, k: int) -> list[str]:
        i, j = self.spans[k]
        return self.sentence.features(i, j, self.shapes[k]) + self.rivals[k]


_MULTIPLIERS = frozenset("hundred hundreds thousand thousands million millions billion billions trillion dozen m bn".split())
_CARDINALS = _NUMBER_WORDS - frozenset("first second third half quarter".split())


def _cuts_number(tokens: list[Token], i: int, j: int) -> bool:
    """Whether the span cuts a number phrase in two: "thousand" of "two thousand", "17.5" of
    "17.5 million" (the whole phrase is a candidate of its own)."""
    def number(t: Token) -> bool:
        return t.kind == "num" or t.lower in _CARDINALS
    return (i > 0 and tokens[i].lower in _MULTIPLIERS and number(tokens[i - 1])) or (
        j + 1 < len(tokens) and tokens[j + 1].lower in _MULTIPLIERS and number(tokens[j]))


def _sort(shape: list[str]) -> str:
    for tag in ("year", "money", "percent", "num", "allcap", "somecap"):
        if tag in shape:
            return tag
    return "lower"


def _rivals(q: QuestionInfo, read: Sentence, spans: list[tuple[int, int]], shapes: list[list[str]]) -> list[list[str]]:
    """Whether each candidate is the nearest of its sort (year, number, name…) to the question's
    words: of "founded the party in 1941 and remained its leader until 1972", 1941 is."""
    sorts = [_sort(shape) for shape in shapes]
    # only the candidates that repeat none of the question's words compete
    distances = [None if read.count("matched", i, j) else read.distance(i, j) for i, j in spans]
    nearer: dict[str, list[int]] = {}
    for sort, d in zip(sorts, distances):
        if d is not None:
            nearer.setdefault(sort, []).append(d)
    levels = {sort: sorted(set(ds)) for sort, ds in nearer.items()}
    out = []
    for sort, d in zip(sorts, distances):
        many = min(len(levels.get(sort, ())), 3)
        if d is None:
            out.append([f"nr:{q.kind}:{sort}:none"])
        else:
            rank = min(levels[sort].index(d), 2)
            out.append([f"nr:{q.kind}:{sort}:{rank}", f"nrm:{q.kind}:{rank}:{many}"])
    return out


def candidates(question: str | QuestionInfo, sentence: str) -> Candidates:
    q = read_question(question) if isinstance(question, str) else question
    read = Sentence(q, tokenize(sentence))
    share = len({read.tokens[k].stem for k in read.matched}) / len(q.stems) if q.stems else 0.0
    spans, shapes = [], []
    for i, j in candidate_spans(read.tokens):
        if _cuts_number(read.tokens, i, j):
            continue
        shape = read.shape(i, j)
        if required(q.kind, shape, q.focus):
            spans.append((i, j))
            shapes.append(shape)
    return Candidates(q, read, spans, shapes, share, _rivals(q, read, spans, shapes))


@dataclass(frozen=True)
class Ranked:
    candidates: Candidates
    scores: list[float]


def rank(question: str | QuestionInfo, sentence: str, weights: dict[str, float]) -> Ranked:
    c = candidates(question, sentence)
    read = c.sentence
    return Ranked(c, [read.score(i, j, shape, weights) + sum(weights.get(f, 0.0) for f in rivals)
                      for (i, j), shape, rivals in zip(c.spans, c.shapes, c.rivals)])


def confidence_features(ranked: Ranked, passage_score: float, lead: float) -> dict[str, float]:
    """What says whether the best candidate is the answer: how far it stands above the others,
    how much of the candidates' weight agrees on its words (expected F1), what kind of question
    it answers and what the candidate looks like, and how well the sentence itself answers (its
    score, its lead over the next passage, the share of question words it holds)."""
    c = ranked.candidates
    scores = ranked.scores
    best = max(range(len(scores)), key=scores.__getitem__)
    top = scores[best]
    weights = [math.exp(s - top) for s in scores]
    z = sum(weights)
    probs = [w / z for w in weights]
    second = max((s for k, s in enumerate(scores) if k != best), default=top - 10.0)
    i, j = c.spans[best]
    # Candidates overlapping the best one agree on where the answer is, if not on its edges;
    # their token F1 with it, weighted by probability, is the F1 the best one can expect.
    here = expected_f1 = 0.0
    for (a, b), p in zip(c.spans, probs):
        common = min(j, b) - max(i, a) + 1
        if common > 0:
            here += p
            expected_f1 += p * 2 * common / (j - i + 1 + b - a + 1)
    # Candidates of the same sort elsewhere in the sentence compete with it ("1941" and "1972").
    sort = _sort(c.shapes[best])
    rivals = [p for (a, b), p, shape in zip(c.spans, probs, c.shapes) if (b < i or a > j) and _sort(shape) == sort]
    kind = c.question.kind
    # A sentence that lacks the question's names or numbers may well be the wrong sentence; the
    # question's words near the best candidate say the answer stands where the question points.
    sentence_stems = {t.stem for t in c.tokens}
    names = c.question.names
    missing_names = len(names - sentence_stems)
    near = {c.tokens[m].stem for m in c.sentence.matched if i - 5 <= m <= j + 5 and not i <= m <= j}
    feats = {
        "bias": 1.0,
        "prob": probs[best],
        "overlap_prob": here,
        "expected_f1": expected_f1,
        f"prob:{kind}": probs[best],
        f"expected_f1:{kind}": expected_f1,
        "margin": min(top - second, 10.0),
        "top": top,
        "log_candidates": math.log(len(scores)),
        "log_tokens": math.log(len(c.tokens)),
        "rivals": math.log1p(len(rivals)),
        "rival_max": max(rivals, default=0.0),
        "matched_share": c.matched_share,
        "missing_names": float(missing_names),
        "missing_name_share": missing_names / len(names) if names else 0.0,
        "near_share": len(near) / len(c.question.stems) if c.question.stems else 0.0,
        "passage_score": passage_score,
        "lead": lead,
        "length": float(j - i + 1),
        f"kind:{kind}": 1.0,
        f"wh:{c.question.wh or 'none'}": 1.0,
    }
    for tag in c.shapes[best]:
        if not tag.startswith("len"):
            feats[f"top:{kind}:{tag}"] = 1.0
    return feats


def calibrated(features: dict[str, float], model: dict) -> float:
    """The confidence model's output in [0, 1]: boosted regression trees predicting the best
    candidate's F1 (the shipped model), or a logistic regression (named weights, "bias" included)."""
    if "trees" not in model:
        return _sigmoid(sum(model.get(k, 0.0) * v for k, v in features.items()))
    index = model.get("index") or {name: k for k, name in enumerate(model["names"])}
    x = [0.0] * len(index)
    for name, value in features.items():
        if name in index:
            x[index[name]] = _float32(value)
    total = model["base"]
    for tree in model["trees"]:
        node, left, right, feature, threshold = 0, tree["left"], tree["right"], tree["feature"], tree["threshold"]
        while left[node] >= 0:
            node = left[node] if x[feature[node]] <= threshold[node] else right[node]
        total += model["rate"] * tree["value"][node]
    return min(1.0, max(0.0, total))


def _float32(x: float) -> float:
    """x as the trees were fitted on it (scikit-learn reads features as 32-bit floats)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def best_span(question: str | QuestionInfo, sentence: str, passage_score: float, lead: float,
              weights: Weights | None = None) -> Span | None:
    """The best-scored candidate of the sentence with its confidence (no threshold applied), or
    None when the sentence holds no candidate of the kind asked for."""
    weights = weights or load_weights()
    ranked = rank(question, sentence, weights.features)
    c = ranked.candidates
    if not c.spans:
        return None
    feats = confidence_features(ranked, passage_score, lead)
    top = max(range(len(ranked.scores)), key=ranked.scores.__getitem__)
    i, j = c.spans[top]
    start, end = c.tokens[i].start, c.tokens[j].end
    return Span(sentence[start:end], start, end, calibrated(feats, weights.confidence))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def with_short_answers(question: str, passages: tuple[Passage, ...], found: bool,
                       settings: ShortAnswerSettings = ShortAnswerSettings()) -> tuple[Passage, ...]:
    """The passages, the first one with its short answer when the sources answer and the best
    candidate's confidence reaches the threshold. A later passage whose highlighted sentence is
    the same text gets the same words marked; the others get none: the confidence is calibrated
    on the sentence that answers, and only that sentence is offered as the answer."""
    if not (settings.enabled and found and passages):
        return passages
    first = passages[0]
    lead = first.score - (passages[1].score if len(passages) > 1 else 0.0)
    span = best_span(question, first.answer, first.score, lead, load_weights(settings.weights))
    if span is None or span.confidence < settings.threshold:
        return passages
    return tuple(
        replace(p, short_answer=span.text, short_start=p.answer_start + span.start, short_end=p.answer_start + span.end)
        if k == 0 or p.answer == first.answer else p
        for k, p in enumerate(passages)
    )
