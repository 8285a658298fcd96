"""Offline answers: retrieved help-centre passages quoted verbatim, each with its citation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from typing_extensions import TypedDict

from knowledge.articles import Domain
from knowledge.store import Hit, KnowledgeBase
from prompts import specialists as templates

# A second paragraph of the same article is quoted only when it is nearly as relevant.
SAME_ARTICLE_MARGIN = 0.05
MAX_QUOTED_PASSAGES = 2


class Citation(TypedDict):
    """An article an answer quotes."""

    article_id: str
    title: str
    url: str


class RetrievedPassage(TypedDict):
    """A passage retrieved for a turn, as the reviewer and the audit see it."""

    passage_id: str
    article_id: str
    title: str
    url: str
    index: int
    distance: float
    text: str


class Draft(TypedDict):
    """An answer ready to send, or to show a reviewer."""

    text: str
    citations: list[Citation]
    passage_ids: list[str]


def retrieve(
    knowledge: KnowledgeBase,
    vector: np.ndarray,
    domain: Domain,
    k: int,
    max_distance: float,
    exclude: Sequence[str] = (),
) -> list[RetrievedPassage]:
    """Passages of one domain close enough to the query to answer from, nearest first."""
    hits: list[Hit] = knowledge.search(vector, domain, k=k, exclude=exclude)
    return [
        RetrievedPassage(
            passage_id=h.passage_id,
            article_id=h.article_id,
            title=h.title,
            url=h.url,
            index=h.index,
            distance=round(h.distance, 4),
            text=h.text,
        )
        for h in hits
        if h.distance <= max_distance
    ]


def compose_answer(
    primary: Sequence[RetrievedPassage], secondary: Sequence[RetrievedPassage] = ()
) -> Draft | None:
    """Quote the best passage (and a close sibling from its article); None when nothing fits."""
    if not primary:
        return None
    best = primary[0]
    quoted = [
        p
        for p in primary
        if p["article_id"] == best["article_id"] and p["distance"] <= best["distance"] + SAME_ARTICLE_MARGIN
    ][:MAX_QUOTED_PASSAGES]
    quoted.sort(key=lambda p: p["index"])
    parts = [p["text"] for p in quoted]
    cited = [best]
    if secondary:
        parts.append(templates.SECONDARY.format(passage=secondary[0]["text"]))
        cited.append(secondary[0])
    citations = unique_citations(cited)
    return Draft(
        text=with_sources("\n\n".join(parts), citations),
        citations=citations,
        passage_ids=[p["passage_id"] for p in quoted] + [p["passage_id"] for p in secondary[:1]],
    )


def with_sources(body: str, citations: Sequence[Citation]) -> str:
    """An answer's body with the articles it cites listed under it."""
    sources = "; ".join(templates.SOURCE.format(title=c["title"], url=c["url"]) for c in citations)
    return templates.ANSWER.format(body=body, sources=sources)


def unique_citations(passages: Sequence[RetrievedPassage]) -> list[Citation]:
    """One citation per article the passages come from, in order of first appearance."""
    seen: dict[str, Citation] = {}
    for p in passages:
        seen.setdefault(p["article_id"], Citation(article_id=p["article_id"], title=p["title"], url=p["url"]))
    return list(seen.values())
