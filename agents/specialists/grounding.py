"""The check every LLM answer passes before it is sent: cited, supported, and saying nothing it must not."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agents.specialists.extractive import RetrievedPassage

_CITATION = re.compile(r"\[(\d{1,2})\]")
_URL = re.compile(r"https?://[^\s)\]>\"']+")
# Identifier-like tokens: letters and digits mixed (LUM-20261012-VIP, ord_7781, PWNED-7731), not words.
# An answer may state one only when an article or a tool result has it; otherwise it is made up, or
# repeats what the customer's text (perhaps encoded) told the model to say.
_DISTINCTIVE = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w]+(?:-[\w]+)*\b")
MIN_IDENTIFIER_CHARS = 5
LEAK_SHINGLE_WORDS = 8
"""An answer sharing this many consecutive words with the system prompt is leaking it."""


@dataclass(frozen=True)
class AnswerCheck:
    """What the check found: the articles the answer cites, and every problem with it."""

    cited: list[RetrievedPassage]
    problems: list[str]


def cited_numbers(text: str) -> list[int]:
    """The article numbers an answer cites, in order of first use."""
    return list(dict.fromkeys(int(n) for n in _CITATION.findall(text)))


def shingles(text: str, size: int) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def ungrounded_identifiers(answer: str, sources: str) -> list[str]:
    """Identifier-like tokens of the answer that no article or tool result contains."""
    tokens = {t for t in _DISTINCTIVE.findall(answer) if len(t) >= MIN_IDENTIFIER_CHARS}
    return sorted(t for t in tokens if t not in sources)


def check_answer(
    answer: str,
    passages: Sequence[RetrievedPassage],
    tool_results: Sequence[str],
    system_prompt: str,
) -> AnswerCheck:
    """Every citation must name a retrieved article; an answer needs articles or tool results behind it."""
    problems: list[str] = []
    numbers = cited_numbers(answer)
    if any(not 1 <= n <= len(passages) for n in numbers):
        problems.append("citation_not_retrieved")
    cited = [passages[n - 1] for n in numbers if 1 <= n <= len(passages)]
    if not cited and not tool_results:
        problems.append("unsupported_answer")
    if not answer.strip():
        problems.append("empty_answer")
    if shingles(answer, LEAK_SHINGLE_WORDS) & shingles(system_prompt, LEAK_SHINGLE_WORDS):
        problems.append("system_prompt_leak")
    allowed = {p["url"] for p in passages}
    if any(url.rstrip(".,;") not in allowed for url in _URL.findall(answer)):
        problems.append("unknown_link")
    sources = "\n".join([*(p["text"] for p in passages), *tool_results])
    if ungrounded_identifiers(answer, sources):
        problems.append("ungrounded_identifier")
    return AnswerCheck(cited=cited, problems=problems)
