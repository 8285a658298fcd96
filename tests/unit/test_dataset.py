"""read_tickets: valid JSONL reads through, every bad file is refused with its file and line named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.triage.dataset import DatasetError, LabelledTicket, read_tickets


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ticket(text: str, category: str, **extra: object) -> str:
    return json.dumps({"text": text, "category": category, **extra})


def test_valid_file_reads_every_ticket(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "tickets.jsonl",
        [
            ticket("How much is Premium?", "billing"),
            ticket("I want my money back", "refund", expect_escalation=True, id="t-2"),
        ],
    )
    tickets = read_tickets(path)
    assert [t.text for t in tickets] == ["How much is Premium?", "I want my money back"]
    assert [t.category for t in tickets] == ["billing", "refund"]
    assert [t.expect_escalation for t in tickets] == [False, True]
    assert [t.id for t in tickets] == [None, "t-2"]


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "tickets.jsonl",
        ["", ticket("The app crashes", "technical"), "   ", "", ticket("Hello", "other"), "\t"],
    )
    assert [t.category for t in read_tickets(path)] == ["technical", "other"]


def test_extra_keys_are_kept(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "tickets.jsonl", [ticket("I can't log in", "account_access", lang="en")])
    (only,) = read_tickets(path)
    assert isinstance(only, LabelledTicket)
    assert only.model_extra == {"lang": "en"}
    assert only.model_dump()["lang"] == "en"


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "bad.jsonl",
        [ticket("fine", "billing"), "", '{"text": "broken", "category": '],
    )
    with pytest.raises(DatasetError) as caught:
        read_tickets(path)
    assert str(caught.value).startswith(f"{path}:3: not valid JSON")


def test_unknown_category_names_line_and_field(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [ticket("fine", "billing"), ticket("odd", "shipping")])
    with pytest.raises(DatasetError) as caught:
        read_tickets(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: category:")
    assert "billing" in message  # the allowed values are listed


def test_missing_text_names_the_field(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps({"category": "billing"})])
    with pytest.raises(DatasetError, match=r":1: text: "):
        read_tickets(path)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_rejected(tmp_path: Path, text: str) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [ticket("fine", "other"), ticket(text, "other")])
    with pytest.raises(DatasetError) as caught:
        read_tickets(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: text:")
    assert "text is empty" in message


def test_line_that_is_not_an_object_is_rejected(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", ['["billing", "a list"]'])
    with pytest.raises(DatasetError, match=r":1: "):
        read_tickets(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.jsonl"
    with pytest.raises(DatasetError) as caught:
        read_tickets(path)
    assert str(caught.value) == f"{path}: no such file"


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        read_tickets(tmp_path)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        read_tickets(path)
    assert str(caught.value) == f"{path}: no tickets in the file"
