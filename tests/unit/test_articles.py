"""Help-centre articles: the shipped ones parse, bad files are refused by name, passages split well."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from knowledge.articles import DEFAULT_ARTICLES_DIR, DOMAINS, ArticleError, load_articles, parse_article

GOOD_META = (
    "id: billing-fees\ntitle: What does it cost?\ndomain: billing\n"
    "url: https://help.example/billing/fees\nupdated: 2026-01-02\n"
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def article_text(meta: str = GOOD_META, body: str = "Fees are listed in the app.\n") -> str:
    return f"---\n{meta}---\n{body}"


def test_shipped_articles_all_parse() -> None:
    files = sorted(DEFAULT_ARTICLES_DIR.rglob("*.md"))
    articles = load_articles(DEFAULT_ARTICLES_DIR)
    assert len(articles) == len(files) > 0
    assert [a.id for a in articles] == sorted(a.id for a in articles)


def test_shipped_articles_cover_every_domain_with_at_least_eight() -> None:
    counts = Counter(a.domain for a in load_articles(DEFAULT_ARTICLES_DIR))
    assert set(counts) == set(DOMAINS)
    assert min(counts.values()) >= 8, counts


def test_shipped_article_ids_are_domain_and_file_stem() -> None:
    for path in sorted(DEFAULT_ARTICLES_DIR.rglob("*.md")):
        article = parse_article(path)
        assert article.id == f"{article.domain}-{path.stem}", path
        assert path.parent.name == article.domain, path


def test_shipped_article_ids_and_urls_are_unique() -> None:
    articles = load_articles(DEFAULT_ARTICLES_DIR)
    ids = [a.id for a in articles]
    urls = [a.url for a in articles]
    assert len(set(ids)) == len(ids)
    assert len(set(urls)) == len(urls)


def test_shipped_articles_have_passages_with_text() -> None:
    for article in load_articles(DEFAULT_ARTICLES_DIR):
        passages = article.passages()
        assert passages, article.id
        assert all(p.text.strip() for p in passages), article.id
        assert [p.index for p in passages] == list(range(len(passages)))


def test_parse_reads_every_field(tmp_path: Path) -> None:
    article = parse_article(write(tmp_path / "fees.md", article_text()))
    assert article.id == "billing-fees"
    assert article.title == "What does it cost?"
    assert article.domain == "billing"
    assert article.url == "https://help.example/billing/fees"
    assert article.updated == "2026-01-02"
    assert article.body == "Fees are listed in the app."


def test_updated_is_optional(tmp_path: Path) -> None:
    meta = GOOD_META.replace("updated: 2026-01-02\n", "")
    assert parse_article(write(tmp_path / "a.md", article_text(meta))).updated == ""


def test_missing_front_matter(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.md", "# Fees\n\nFees are listed in the app.\n")
    with pytest.raises(ArticleError, match="no YAML front matter") as caught:
        parse_article(path)
    assert str(path) in str(caught.value)


def test_bad_yaml(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.md", article_text("id: [unclosed\ntitle: x\n"))
    with pytest.raises(ArticleError, match="not valid YAML") as caught:
        parse_article(path)
    assert str(path) in str(caught.value)


def test_front_matter_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "list.md", article_text("- id\n- title\n"))
    with pytest.raises(ArticleError):
        parse_article(path)


@pytest.mark.parametrize("key", ["id", "title", "domain", "url"])
def test_missing_key(tmp_path: Path, key: str) -> None:
    meta = "".join(line + "\n" for line in GOOD_META.splitlines() if not line.startswith(f"{key}:"))
    path = write(tmp_path / "a.md", article_text(meta))
    with pytest.raises(ArticleError, match=f"lacks {key}$") as caught:
        parse_article(path)
    assert str(path) in str(caught.value)


def test_empty_key_counts_as_missing(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", article_text(GOOD_META.replace("title: What does it cost?", "title:")))
    with pytest.raises(ArticleError, match="lacks title"):
        parse_article(path)


def test_unknown_domain(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", article_text(GOOD_META.replace("domain: billing", "domain: shipping")))
    with pytest.raises(ArticleError, match="domain 'shipping' is not one of") as caught:
        parse_article(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("body", ["", "\n\n   \n"])
def test_empty_body(tmp_path: Path, body: str) -> None:
    path = write(tmp_path / "a.md", article_text(body=body))
    with pytest.raises(ArticleError, match="has no body") as caught:
        parse_article(path)
    assert str(path) in str(caught.value)


def test_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path / "billing" / "one.md", article_text())
    write(tmp_path / "refunds" / "two.md", article_text(GOOD_META.replace("/fees", "/other")))
    with pytest.raises(
        ArticleError, match=r"two\.md: article id 'billing-fees' is already used by .*one\.md"
    ):
        load_articles(tmp_path)


def test_load_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="no such folder"):
        load_articles(tmp_path / "nowhere")


def test_load_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match=r"no \*\.md articles"):
        load_articles(tmp_path)


def test_load_names_the_bad_file(tmp_path: Path) -> None:
    write(tmp_path / "good.md", article_text())
    bad = write(tmp_path / "sub" / "bad.md", "no front matter here\n")
    with pytest.raises(ArticleError) as caught:
        load_articles(tmp_path)
    assert str(bad) in str(caught.value)


def test_load_sorts_by_id_and_reads_subfolders(tmp_path: Path) -> None:
    write(tmp_path / "z.md", article_text(GOOD_META.replace("billing-fees", "billing-a")))
    write(
        tmp_path / "deep" / "a.md",
        article_text(GOOD_META.replace("billing-fees", "billing-b").replace("/fees", "/b")),
    )
    assert [a.id for a in load_articles(tmp_path)] == ["billing-a", "billing-b"]


def test_passages_split_paragraphs_and_keep_a_list_with_its_intro(tmp_path: Path) -> None:
    body = (
        "First paragraph,\nwrapped over two lines.\n"
        "\n"
        "Here is what to check:\n"
        "- Balance: top up first.\n"
        "- Frozen card: unfreeze it.\n"
        "\n\n"
        "Last paragraph.\n"
    )
    article = parse_article(write(tmp_path / "a.md", article_text(body=body)))
    passages = article.passages()
    assert [p.text for p in passages] == [
        "First paragraph, wrapped over two lines.",
        "Here is what to check: - Balance: top up first. - Frozen card: unfreeze it.",
        "Last paragraph.",
    ]
    assert [p.id for p in passages] == ["billing-fees#0", "billing-fees#1", "billing-fees#2"]
    assert all(p.article_id == "billing-fees" for p in passages)
    assert [p.index for p in passages] == [0, 1, 2]


def test_a_list_after_a_blank_line_joins_the_paragraph_before_it(tmp_path: Path) -> None:
    body = "You can pay with:\n\n- a card\n- a bank transfer\n\nThat is all.\n"
    passages = parse_article(write(tmp_path / "a.md", article_text(body=body))).passages()
    assert [p.text for p in passages] == ["You can pay with: - a card - a bank transfer", "That is all."]


def test_content_hash_follows_the_body(tmp_path: Path) -> None:
    first = parse_article(write(tmp_path / "a.md", article_text()))
    same = parse_article(write(tmp_path / "b.md", article_text()))
    changed = parse_article(write(tmp_path / "c.md", article_text(body="Fees changed.\n")))
    assert first.content_hash == same.content_hash
    assert first.content_hash != changed.content_hash
