"""Help-centre articles: markdown files with YAML front matter, split into answerable passages."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import yaml

Domain = Literal["billing", "access", "technical", "refunds", "general"]
DOMAINS: tuple[Domain, ...] = get_args(Domain)
DEFAULT_ARTICLES_DIR = Path(__file__).parent / "articles"
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.DOTALL)
_REQUIRED_KEYS = ("id", "title", "domain", "url")


class ArticleError(ValueError):
    """An article file that cannot be ingested, with the file named."""


@dataclass(frozen=True)
class Passage:
    """One paragraph of an article: the unit that is retrieved and quoted."""

    id: str
    article_id: str
    index: int
    text: str


@dataclass(frozen=True)
class Article:
    """One help-centre article."""

    id: str
    title: str
    domain: Domain
    url: str
    updated: str
    body: str

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that is indexed changes."""
        material = "\n".join((self.title, self.domain, self.url, self.updated, self.body))
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def passages(self) -> list[Passage]:
        """Paragraphs in order; a bullet list stays with the paragraph that introduces it."""
        blocks: list[str] = []
        for block in re.split(r"\n\s*\n", self.body.strip()):
            text = " ".join(line.strip() for line in block.splitlines() if line.strip())
            if not text:
                continue
            if blocks and text.startswith(("- ", "* ", "1. ")):
                blocks[-1] = f"{blocks[-1]} {text}"
            else:
                blocks.append(text)
        return [
            Passage(id=f"{self.id}#{i}", article_id=self.id, index=i, text=text)
            for i, text in enumerate(blocks)
        ]


def parse_article(path: Path) -> Article:
    """Read one markdown article, naming the file in any error."""
    match = _FRONT_MATTER.match(path.read_text(encoding="utf-8"))
    if match is None:
        raise ArticleError(f"{path}: no YAML front matter between '---' lines")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        raise ArticleError(f"{path}: front matter is not valid YAML: {error}") from error
    if not isinstance(meta, dict):
        raise ArticleError(f"{path}: front matter must be key: value pairs")
    missing = [key for key in _REQUIRED_KEYS if not meta.get(key)]
    if missing:
        raise ArticleError(f"{path}: front matter lacks {', '.join(missing)}")
    if meta["domain"] not in DOMAINS:
        raise ArticleError(f"{path}: domain {meta['domain']!r} is not one of {', '.join(DOMAINS)}")
    body = match.group(2).strip()
    if not body:
        raise ArticleError(f"{path}: the article has no body")
    return Article(
        id=str(meta["id"]),
        title=str(meta["title"]),
        domain=meta["domain"],
        url=str(meta["url"]),
        updated=str(meta.get("updated", "")),
        body=body,
    )


def load_articles(directory: Path) -> list[Article]:
    """Every `*.md` article below a folder, sorted by id; ids must be unique."""
    if not directory.is_dir():
        raise ArticleError(f"{directory}: no such folder of articles")
    articles: dict[str, Article] = {}
    paths: dict[str, Path] = {}
    for path in sorted(directory.rglob("*.md")):
        article = parse_article(path)
        if article.id in articles:
            raise ArticleError(f"{path}: article id {article.id!r} is already used by {paths[article.id]}")
        articles[article.id], paths[article.id] = article, path
    if not articles:
        raise ArticleError(f"{directory}: no *.md articles found")
    return sorted(articles.values(), key=lambda a: a.id)
