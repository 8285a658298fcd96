"""PII redaction: each entity kind, look-alikes kept, overlaps, the log filter, the eval and its floor."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.safety.pii import MEMO_MAX_CHARS, PiiSpan, Redactor, default_redactor, select_non_overlapping
from app.log_redaction import RedactingFilter, install_log_redaction
from evals.pii_eval import (
    DEFAULT_DATASET,
    GoldSpan,
    PiiExample,
    PiiReport,
    evaluate_pii,
    leaks,
    score_spans,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return default_redactor()


@pytest.mark.parametrize(
    ("text", "pii", "placeholder"),
    [
        (
            "Write to me at jane.doe+lumora@example.com please",
            "jane.doe+lumora@example.com",
            "<EMAIL_ADDRESS>",
        ),
        ("call me on +44 7700 900123 after five", "+44 7700 900123", "<PHONE_NUMBER>"),
        ("my number is 07700 900456.", "07700 900456", "<PHONE_NUMBER>"),
        ("reach me at (312) 555-0147", "(312) 555-0147", "<PHONE_NUMBER>"),
        ("Tel. +49 151 23456789 bitte", "+49 151 23456789", "<PHONE_NUMBER>"),
        ("portable 06 39 98 12 34, merci", "06 39 98 12 34", "<PHONE_NUMBER>"),
        ("phone 4155550123 works", "4155550123", "<PHONE_NUMBER>"),
        ("from abroad: 0044 7700 900461", "0044 7700 900461", "<PHONE_NUMBER>"),
        ("card 4111 1111 1111 1111 was declined", "4111 1111 1111 1111", "<CREDIT_CARD>"),
        ("amex 3782 822463 10005 please", "3782 822463 10005", "<CREDIT_CARD>"),
        ("new Mastercard 2223003122003222 declined", "2223003122003222", "<CREDIT_CARD>"),
        ("refund to DE89 3704 0044 0532 0130 00 today", "DE89 3704 0044 0532 0130 00", "<IBAN_CODE>"),
        ("IBAN GB82WEST12345698765432 thanks", "GB82WEST12345698765432", "<IBAN_CODE>"),
        ("my SSN is 212-48-7795", "212-48-7795", "<NATIONAL_ID>"),
        ("NI number AB 12 34 56 C", "AB 12 34 56 C", "<NATIONAL_ID>"),
        ("Mi DNI es 12345678Z", "12345678Z", "<NATIONAL_ID>"),
        ("NIE X1234567L", "X1234567L", "<NATIONAL_ID>"),
        ("codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S", "<NATIONAL_ID>"),
        ("mijn BSN is 111222333", "111222333", "<NATIONAL_ID>"),
        (
            "Ship to 221B Baker Street, London NW1 6XE thanks",
            "221B Baker Street, London NW1 6XE",
            "<ADDRESS>",
        ),
        (
            "Neue Adresse: Berliner Straße 12a, 80331 München",
            "Berliner Straße 12a, 80331 München",
            "<ADDRESS>",
        ),
        ("Calle de Alcalá 42, 3º B, 28014 Madrid", "Calle de Alcalá 42, 3º B, 28014 Madrid", "<ADDRESS>"),
        ("Via Roma 12, 00184 Roma", "Via Roma 12, 00184 Roma", "<ADDRESS>"),
        ("au 12 rue de la Paix, 75002 Paris", "12 rue de la Paix, 75002 Paris", "<ADDRESS>"),
        ("to P.O. Box 4471, Springfield, IL 62704", "P.O. Box 4471, Springfield, IL 62704", "<ADDRESS>"),
        ("adres Keizersgracht 123, 1015 CJ Amsterdam", "Keizersgracht 123, 1015 CJ Amsterdam", "<ADDRESS>"),
    ],
)
def test_each_entity_kind_is_redacted(redactor: Redactor, text: str, pii: str, placeholder: str) -> None:
    assert redactor.redact(text) == text.replace(pii, placeholder)


@pytest.mark.parametrize(
    "text",
    [
        "Order 4111 1111 1111 1112 is late",  # card-shaped, fails Luhn
        "Order number 4000123412341235 shipped",
        "reference 4983-6409-6344-3392 refunded",
        "Order #123-4567890-1234567 from the marketplace",  # a Luhn-valid slice inside a longer id
        "order 12345 arrived",
        "Where is order #55512345? It was due 2025-03-15 at 14:30.",
        "Invoice INV-2024-004512 shows €1,250.00",
        "Tracking 1Z999AA10123456784 stuck",
        "The app crashes on version 2.14.3, build 20250315.2",
        "Kundennummer 123456789 und Bestellung 4051234567",
        "Exchange rate was 1.0209734 on 15.03.2025",
        "card ending in 4242 charged twice",
        "Payment reference RF18 5390 0754 7034 not matched",
        "DNI-like order 12345678A is not a DNI",  # wrong check letter
        "my SSN is 123-45-6789",  # the canonical example number, never issued
    ],
)
def test_look_alikes_are_kept(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == text


def test_text_without_digits_or_at_is_returned_as_is(redactor: Redactor) -> None:
    assert redactor.find("Please help, I cannot log in to my wallet") == []


def test_short_texts_are_analysed_once_and_long_ones_every_time() -> None:
    redactor = Redactor()
    short = "POST /v1/customers/ana@example.com/erase from +44 7700 900123"
    long_text = "Call me on +44 7700 900123. " + "More details follow. " * 20
    assert len(short) <= MEMO_MAX_CHARS < len(long_text)
    before = redactor._remembered.cache_info()
    first, again = redactor.redact(short), redactor.redact(short)
    assert first == again == "POST /v1/customers/<EMAIL_ADDRESS>/erase from <PHONE_NUMBER>"
    after = redactor._remembered.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    assert redactor.redact(long_text).startswith("Call me on <PHONE_NUMBER>.")
    assert redactor._remembered.cache_info().currsize == after.currsize  # long texts are not kept
    spans = redactor.find(short)
    spans.clear()  # a caller changing its list does not change what is remembered
    assert len(redactor.find(short)) == 2


def test_overlaps_keep_the_higher_score() -> None:
    spans = [PiiSpan("PHONE_NUMBER", 5, 24, 0.7), PiiSpan("CREDIT_CARD", 5, 24, 1.0)]
    assert select_non_overlapping(spans) == [PiiSpan("CREDIT_CARD", 5, 24, 1.0)]
    partial = [
        PiiSpan("PHONE_NUMBER", 0, 10, 0.7),
        PiiSpan("US_SSN", 8, 19, 0.85),
        PiiSpan("EMAIL_ADDRESS", 30, 40, 1),
    ]
    assert select_non_overlapping(partial) == [
        PiiSpan("US_SSN", 8, 19, 0.85),
        PiiSpan("EMAIL_ADDRESS", 30, 40, 1),
    ]


def test_a_containing_span_replaces_what_it_contains() -> None:
    address, zip_phone = PiiSpan("ADDRESS", 0, 40, 0.6), PiiSpan("PHONE_NUMBER", 30, 40, 0.7)
    assert select_non_overlapping([zip_phone, address]) == [address]


def test_overlapping_detections_leave_one_placeholder(redactor: Redactor) -> None:
    text = "Send it to 1600 Main St, Springfield, IL 62704-1234."
    assert redactor.redact(text) == "Send it to <ADDRESS>."
    found = redactor.find("card 4973-5929-6037-5195 and mail a@example.com")
    assert [s.entity for s in found] == ["CREDIT_CARD", "EMAIL_ADDRESS"]
    assert all(a.end <= b.start for a, b in zip(found, found[1:], strict=False))


def test_entities_can_be_narrowed() -> None:
    only_email = Redactor(entities=["EMAIL_ADDRESS", "US_SSN"])
    text = "a@example.com, +44 7700 900123, SSN 212-48-7795"
    assert only_email.redact(text) == "<EMAIL_ADDRESS>, +44 7700 900123, SSN <NATIONAL_ID>"
    with pytest.raises(ValueError, match="unknown PII entity"):
        Redactor(entities=["PASSPORT"])


def test_nothing_touches_the_network() -> None:
    """A fresh process with sockets disabled builds the redactor and checks an email's domain."""
    script = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError('network access attempted')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from agents.safety.pii import Redactor\n"
        "print(Redactor().redact('mail a@example.co.uk or +44 7700 900123'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "mail <EMAIL_ADDRESS> or <PHONE_NUMBER>"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def collected() -> Iterator[_Collect]:
    """A handler on a private logger, removed afterwards."""
    handler = _Collect()
    logger = logging.getLogger("test_pii.private")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield handler
    logger.removeHandler(handler)


def test_filter_redacts_message_and_args(redactor: Redactor, collected: _Collect) -> None:
    collected.addFilter(RedactingFilter(redactor))
    log = logging.getLogger("test_pii.private")
    log.info("customer a@example.com wrote: %s (attempt %d)", "call me on +44 7700 900123", 3)
    log.info("card %(card)s for %(who)s", {"card": "4111 1111 1111 1111", "who": "b@example.org"})
    assert collected.lines == [
        "customer <EMAIL_ADDRESS> wrote: call me on <PHONE_NUMBER> (attempt 3)",
        "card <CREDIT_CARD> for <EMAIL_ADDRESS>",
    ]


def test_filter_redacts_exception_text(redactor: Redactor, collected: _Collect) -> None:
    collected.addFilter(RedactingFilter(redactor))
    collected.setFormatter(logging.Formatter("%(message)s"))
    try:
        raise ValueError("bad IBAN DE89 3704 0044 0532 0130 00")
    except ValueError:
        logging.getLogger("test_pii.private").exception("refund failed")
    assert "DE89" not in collected.lines[0]
    assert "<IBAN_CODE>" in collected.lines[0]


def test_filter_keeps_access_log_args_shape(redactor: Redactor, collected: _Collect) -> None:
    """uvicorn's access formatter unpacks five args and formats the status code as an int."""
    collected.addFilter(RedactingFilter(redactor))
    args = ("127.0.0.1:54321", "GET", "/v1/customers?email=a@example.com", "1.1", 200)
    logging.getLogger("test_pii.private").info('%s - "%s %s HTTP/%s" %d', *args)
    assert collected.records[0].args == (
        "127.0.0.1:54321",
        "GET",
        "/v1/customers?email=<EMAIL_ADDRESS>",
        "1.1",
        200,
    )


def test_install_attaches_once_to_root_handlers_and_named_loggers(redactor: Redactor) -> None:
    root, handler = logging.getLogger(), _Collect()
    root.addHandler(handler)
    named = [logging.getLogger(n) for n in ("support_router", "uvicorn.access", "uvicorn.error")]
    before = {id(lg): list(lg.filters) for lg in named}
    try:
        install_log_redaction(redactor)
        install_log_redaction(redactor)
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        for lg in named:
            assert sum(isinstance(f, RedactingFilter) for f in lg.filters) == 1
    finally:
        root.removeHandler(handler)
        for lg in named:
            lg.filters = before[id(lg)]


def test_analyzer_logging_during_redaction_does_not_recurse(redactor: Redactor) -> None:
    """With debug logging on, the analyzer's own records reach the filtering handler mid-redaction."""
    root, handler = logging.getLogger(), _Collect()
    handler.addFilter(RedactingFilter(redactor))
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        logging.getLogger("support_router").info("email %s", "a@example.com")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert "email <EMAIL_ADDRESS>" in handler.lines
    assert not any("a@example.com" in line for line in handler.lines)


# A tiny hand-scored fixture: 4 gold spans, 5 predictions.
_TEXT = "x" * 60
_EXAMPLES = [
    PiiExample("e1", _TEXT, (GoldSpan("EMAIL_ADDRESS", 6, 19),)),
    PiiExample("e2", _TEXT, (GoldSpan("US_SSN", 0, 11), GoldSpan("ADDRESS", 20, 40))),
    PiiExample("e3", _TEXT, (GoldSpan("PHONE_NUMBER", 0, 10),)),
]
_PREDICTED = [
    [PiiSpan("EMAIL_ADDRESS", 6, 19, 1.0), PiiSpan("PHONE_NUMBER", 26, 30, 0.7)],  # a hit and a false alarm
    [
        PiiSpan("UK_NINO", 0, 11, 0.5),
        PiiSpan("ADDRESS", 20, 29, 0.6),
    ],  # other country's id counts; 9/20 < half
    [PiiSpan("PHONE_NUMBER", 0, 5, 0.7)],  # exactly half of the gold span: a match
]


def test_span_scores_by_hand() -> None:
    per_entity, overall = score_spans(_EXAMPLES, _PREDICTED)
    assert (overall.gold, overall.predicted, overall.gold_found, overall.predicted_correct) == (4, 5, 3, 3)
    assert overall.precision == pytest.approx(0.6)
    assert overall.recall == pytest.approx(0.75)
    assert overall.f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert per_entity["PHONE_NUMBER"].precision == pytest.approx(0.5)
    assert per_entity["PHONE_NUMBER"].recall == 1.0
    assert per_entity["NATIONAL_ID"].f1 == 1.0
    assert (per_entity["ADDRESS"].precision, per_entity["ADDRESS"].recall, per_entity["ADDRESS"].f1) == (
        0,
        0,
        0,
    )


def test_leaks_by_hand() -> None:
    leaked = [leaks(len(e.text), e.spans, p) for e, p in zip(_EXAMPLES, _PREDICTED, strict=True)]
    assert leaked == [False, True, True]


def test_evaluate_pii_on_a_small_file(redactor: Redactor, tmp_path: Path) -> None:
    rows = [
        {
            "id": "a",
            "text": "mail a@example.com",
            "spans": [{"entity": "EMAIL_ADDRESS", "start": 5, "end": 18}],
        },
        {"id": "b", "text": "order 12345 is late", "spans": []},
        {"id": "c", "text": "at 41 elm street", "spans": [{"entity": "ADDRESS", "start": 3, "end": 16}]},
    ]
    path = tmp_path / "pii.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = evaluate_pii(path, redactor)
    assert report.messages == 3
    assert (report.overall.gold, report.overall.predicted, report.overall.gold_found) == (2, 1, 1)
    assert report.leak_rate == pytest.approx(1 / 3)
    assert report.leaked_ids == ["c"]  # lower-case street lines are not recognised


@pytest.fixture(scope="module")
def shipped(redactor: Redactor) -> PiiReport:
    return evaluate_pii(DEFAULT_DATASET, redactor)


def test_shipped_set_is_large_and_labelled(shipped: PiiReport) -> None:
    assert shipped.messages >= 200
    assert shipped.overall.gold >= 300
    groups = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "NATIONAL_ID", "ADDRESS"}
    assert groups <= set(shipped.per_entity)


def test_floor_on_the_shipped_set(shipped: PiiReport) -> None:
    """Set just below the measured values (recall 0.992, precision 0.984, leak rate 0.008)."""
    assert shipped.overall.recall >= 0.98
    assert shipped.overall.precision >= 0.97
    assert shipped.leak_rate <= 0.015
    for name, scores in shipped.per_entity.items():
        assert scores.recall >= 0.95, name
        assert scores.precision >= 0.93, name
