"""Boilerplate is detected by general rules, marked as spans, and never reaches an answer."""

from qa.clean import boilerplate, kept_segments, line_reason

SCRAPED_PAGE = """Skip to content
Home > World > Science
Accept all cookies? We use cookies to improve your experience. Manage preferences
Scientists map the deep ocean floor

By Jane Reporter
A team of researchers has mapped 25 percent of the ocean floor using sonar data from ships.
Share on Facebook   Twitter   Email
Related articles
Advertisement
£45,000 - £52,000 per annum
The project aims to map the rest by 2030, its director said.
Coral reef at dawn
Coral reef at dawn
Comments are closed.
© 2024 Example Media. All rights reserved.
"""


def test_typical_page_furniture_is_detected_and_content_kept():
    skips = boilerplate(SCRAPED_PAGE)
    skipped = "".join(SCRAPED_PAGE[s.start:s.end] for s in skips)
    for junk in ["Skip to content", "Home > World", "cookies", "Share on Facebook", "Related articles",
                 "Advertisement", "£45,000", "Coral reef at dawn", "Comments are closed", "All rights reserved"]:
        assert junk in skipped, junk
    kept = "".join(SCRAPED_PAGE[a:b] for a, b in kept_segments(SCRAPED_PAGE, skips))
    for content in ["Scientists map the deep ocean floor", "25 percent of the ocean floor", "map the rest by 2030"]:
        assert content in kept
        assert content not in skipped


def test_cleaning_marks_spans_and_never_rewrites_text():
    skips = boilerplate(SCRAPED_PAGE)
    for s in skips:
        assert 0 <= s.start < s.end <= len(SCRAPED_PAGE)
        assert s.reason
    for prev, nxt in zip(skips, skips[1:]):
        assert prev.end <= nxt.start


def test_sentences_that_merely_mention_furniture_words_are_content():
    assert line_reason("The council said it would share the findings with parents in September.") is None
    assert line_reason("Researchers found that cookies in the canteen were too sugary, and parents agreed.") is None
    assert line_reason("Sponsored by the county, the scheme placed 40 apprentices in local firms last year.") is None


def test_seed_boilerplate_is_never_in_an_indexed_chunk(seeds_index):
    snap = seeds_index.snapshot()
    junk = ["Skip to main content", "Most popular articles today", "Sponsored Content", "Featured event",
            "Comments are closed", "This site uses cookies", "£33.945", "Child holding hands with an adult",
            "Home \xa0 Kent", "More from Community Care", "(photo:"]
    for doc in snap.documents():
        for chunk in snap.doc_chunks(doc.id):
            for j in junk:
                assert j not in chunk.text, (doc.source, j)
