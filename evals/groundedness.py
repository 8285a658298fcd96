"""Whether an answer that went out is supported by the articles it cites, measured independently of the
check the router runs itself (that one looks at citations, links and identifiers, not at content).

A sentence is supported when most of its content words occur in the cited articles' retrieved passages;
an answer is grounded when it cites at least one retrieved article, cites nothing else, and nearly all
its substantive sentences are supported. Word overlap is crude, but it is cheap, needs no model, and
catches what matters here: an answer that says things its sources do not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agents.specialists.extractive import Citation, RetrievedPassage

SOURCES_MARKER = "\n\nSource: "
"""Where the list of sources starts in every answer (prompts/specialists.ANSWER)."""
MIN_CONTENT_WORDS = 3
"""Shorter sentences (greetings, "Thanks!") say nothing that needs a source."""
SENTENCE_SUPPORT = 0.6
"""Share of a sentence's content words that must occur in the sources."""
ANSWER_SUPPORT = 0.75
"""Share of an answer's substantive sentences that must be supported."""
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_WORDS = re.compile(r"[^\W\d_]{3,}")
_STOPWORDS = frozenset(
    """the and for you your are our can with this that from have has was were will not but they them
    their there then than what when where which who how why all any its it's into out about more most
    some such only own same also just very would could should may might must does did done been being
    here after before over under again further once each few other both these those while because until
    please thanks thank hello dear""".split()
)


@dataclass(frozen=True)
class Groundedness:
    """The verdict on one answer and the share of its substantive sentences the sources support."""

    grounded: bool
    support: float


def content_words(text: str) -> set[str]:
    """Lower-case words of three letters or more, stop words left out."""
    return {w for w in (m.lower() for m in _WORDS.findall(text)) if w not in _STOPWORDS}


def body_of(answer: str) -> str:
    """The answer without its list of sources, which would otherwise support itself."""
    return answer.split(SOURCES_MARKER, 1)[0]


def measure(
    answer: str, citations: Sequence[Citation], retrieved: Sequence[RetrievedPassage]
) -> Groundedness:
    """How well `answer` is supported by the passages of the articles it cites."""
    cited = {c["article_id"] for c in citations}
    passages = [p for p in retrieved if p["article_id"] in cited]
    if not cited or not cited <= {p["article_id"] for p in retrieved}:
        return Groundedness(grounded=False, support=0.0)
    source_words = content_words(" ".join(p["text"] for p in passages))
    sentences = [content_words(s) for s in _SENTENCES.split(body_of(answer))]
    sentences = [words for words in sentences if len(words) >= MIN_CONTENT_WORDS]
    if not sentences:
        return Groundedness(grounded=False, support=0.0)
    supported = sum(len(words & source_words) / len(words) >= SENTENCE_SUPPORT for words in sentences)
    support = supported / len(sentences)
    return Groundedness(grounded=support >= ANSWER_SUPPORT, support=round(support, 4))
