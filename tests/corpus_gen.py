"""Small synthetic documents with distinct facts, for build and update tests."""

import random

PLACES = ["Ashford", "Bexley", "Camden", "Dover", "Ealing", "Folkestone", "Greenwich", "Hastings", "Ipswich",
          "Jarrow", "Kendal", "Luton", "Margate", "Norwich", "Oxford", "Preston", "Reading", "Swindon", "Truro", "Wigan"]
THINGS = ["library", "bridge", "museum", "harbour", "market", "theatre", "school", "hospital", "railway station",
          "park", "castle", "cathedral", "mill", "lighthouse", "pier", "observatory", "canal", "brewery"]
VERBS = ["was rebuilt", "opened", "was restored", "closed", "was extended", "was founded", "was renamed", "reopened"]


def fact(rng: random.Random) -> str:
    place, thing, verb = rng.choice(PLACES), rng.choice(THINGS), rng.choice(VERBS)
    year = rng.randint(1800, 2023)
    people = rng.randint(2, 900)
    return f"The {thing} in {place} {verb} in {year}, and {people} people attended the ceremony."


def document(seed: int, sentences: int = 6) -> str:
    rng = random.Random(seed)
    title = f"Notes on {rng.choice(PLACES)} number {seed}"
    return title + "\n\n" + "\n".join(fact(rng) for _ in range(sentences)) + "\n"


def write_corpus(folder, count: int, start: int = 0, sentences: int = 6) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        p = folder / f"doc{i:04d}.txt"
        p.write_text(document(i, sentences))
        paths.append(p)
    return paths
