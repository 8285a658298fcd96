"""PII redaction for text sent to an LLM, logged or traced: Presidio pattern recognizers, offline."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers
import spacy
import tldextract
from phonenumbers import Leniency
from presidio_analyzer import (
    AnalysisExplanation,
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    EsNieRecognizer,
    EsNifRecognizer,
    IbanRecognizer,
    ItFiscalCodeRecognizer,
    PhoneRecognizer,
    UkNinoRecognizer,
    UsSsnRecognizer,
)
from spacy.language import Language
from spacy.tokens import Doc

LANGUAGE = "en"
"""Every recognizer is registered under one language: they are patterns, so they read any language."""

ENTITY_GROUPS: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("EMAIL_ADDRESS",),
    "PHONE_NUMBER": ("PHONE_NUMBER",),
    "CREDIT_CARD": ("CREDIT_CARD",),
    "IBAN_CODE": ("IBAN_CODE",),
    "NATIONAL_ID": ("US_SSN", "UK_NINO", "ES_NIF", "ES_NIE", "IT_FISCAL_CODE", "NL_BSN"),
    "ADDRESS": ("ADDRESS",),
}
"""Placeholder group -> the recognizer entities it covers; a span is replaced by `<GROUP>`."""

DEFAULT_ENTITIES: tuple[str, ...] = tuple(ENTITY_GROUPS)

PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IE", "AU", "IN")
"""Regions whose national formats (no country code) are recognised; international ones always are."""

DEFAULT_MIN_SCORE = 0.5
"""Checksum-validated matches score 1.0, formatted phones and addresses 0.6-0.7, and the ambiguous
shapes (bare digit runs that could be order numbers) score below this unless a context word is near."""

_GROUP_OF = {entity: group for group, members in ENTITY_GROUPS.items() for entity in members}

# Only the bundled public-suffix snapshot: the default extractor fetches the list over the network on
# first use and writes it to a cache directory.
_OFFLINE_TLD = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())


@dataclass(frozen=True)
class PiiSpan:
    """One detected piece of PII: the recognizer's entity, its character range and confidence."""

    entity: str
    start: int
    end: int
    score: float


def entity_group(entity: str) -> str:
    """The placeholder group of a recognizer entity (US_SSN -> NATIONAL_ID); unknown ones stand alone."""
    return _GROUP_OF.get(entity, entity)


def placeholder(entity: str) -> str:
    """The typed text that replaces a span of this entity."""
    return f"<{entity_group(entity)}>"


@Language.component("support_router_lowercase_lemma")
def _lowercase_lemma(doc: Doc) -> Doc:
    """Give each token its lower-cased text as lemma so Presidio's context words match a blank pipeline."""
    for token in doc:
        token.lemma_ = token.lower_
    return doc


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine over `spacy.blank`: tokens for context words, no model to download."""

    def __init__(self, language: str = LANGUAGE) -> None:
        super().__init__(models=[{"lang_code": language, "model_name": f"blank:{language}"}])
        self.language = language

    def load(self) -> None:
        """Build the blank pipeline in place of `spacy.load`, which would fetch a trained model."""
        nlp = spacy.blank(self.language)
        nlp.add_pipe("support_router_lowercase_lemma")
        # Presidio leaves the attribute unannotated and initialised to None, so mypy infers None.
        self.nlp = {self.language: nlp}  # type: ignore[assignment]


class _OfflineEmailRecognizer(EmailRecognizer):
    """Email addresses whose domain ends in a public suffix, checked against the bundled list only."""

    # Presidio's local part admits every RFC 5322 character, so in "/path?email=a@example.com" the
    # match starts at "path" and the URL-shaped whole then fails the domain check; addresses written
    # in messages and URLs use these characters.
    PATTERNS = [
        Pattern(
            "Email (practical)",
            r"(?<![\w.%+'-])[\w%+'-](?:[\w.%+'-]*[\w%+'-])?@\w+(?:-+\w+)*(?:\.\w+(?:-+\w+)*)+\b",
            0.5,
        )
    ]

    def validate_result(self, pattern_text: str) -> bool:
        """A match counts when its domain ends in a known public suffix."""
        return _OFFLINE_TLD(pattern_text.rpartition("@")[2]).fqdn != ""


PHONE_CONTEXT = [
    "phone",
    "mobile",
    "cell",
    "call",
    "whatsapp",
    "sms",
    "telefon",
    "handy",
    "rufnummer",
    "teléfono",
    "telefono",
    "móvil",
    "movil",
    "llamar",
    "téléphone",
    "portable",
    "appeler",
    "cellulare",
    "chiamare",
    "telefoon",
    "mobiel",
    "bellen",
]
"""Words that make a bare digit run a phone number; "number" is left out because "order number" is not."""


# Seven digits, possibly grouped: no phone number in the configured regions is shorter, and texts
# without such a run skip the phonenumbers passes, which are most of the per-message cost.
_PHONE_CANDIDATE = re.compile(r"\d(?:[\s().\-/]{0,3}\d){6}")

# Phone shapes that are phone numbers whatever the metadata says of the range (reserved and fictional
# ranges, ranges newer than the installed metadata): a trunk-0 or 00-international number grouped by
# spaces, and the North American (ddd) ddd-dddd. "Not after a digit and a space" keeps the groups of
# an IBAN or card out.
_PHONE_SHAPES = re.compile(
    r"(?<![\w+.,/-])(?<!\d )"
    r"(?:\(?0\d{1,4}\)?(?: \d{2,6}){1,4}|(?:\(\d{3}\) ?|\d{3}[-.])\d{3}[-.]\d{4})"
    r"(?![\w/-]|[.,]\d| \d)"
)
_MIN_SHAPE_DIGITS = 9

# A US ZIP+4, an SSN and a card-shaped 4-4-4-4 number (one that failed the Luhn check: an order number)
# also parse as grouped national numbers; none of them is a phone number.
_NOT_PHONE = re.compile(r"\d{5}-\d{4}|\d{3}-\d{2}-\d{4}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}")
# The digits after a decimal point (an exchange rate, an amount) are part of a number, not a phone.
_DECIMAL_BEFORE = re.compile(r"\d[.,]$")
_DECIMAL_AFTER = re.compile(r"^[.,]\d")


def _digit_count(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _in_decimal(text: str, start: int, end: int) -> bool:
    return bool(
        _DECIMAL_BEFORE.search(text[max(0, start - 2) : start]) or _DECIMAL_AFTER.match(text[end : end + 2])
    )


class _PhoneRecognizer(PhoneRecognizer):
    """Numbers valid in the configured regions, plus numbers that are plainly written as phone numbers."""

    NAME = "PhoneRecognizer"
    FORMATTED_SCORE = 0.7
    BARE_SCORE = 0.35
    # VALID alone lets "INV-2024-004512" through as a number; strict grouping wants phone-like groups.
    LENIENCY = Leniency.STRICT_GROUPING

    def __init__(self, regions: Sequence[str]) -> None:
        super().__init__(
            context=PHONE_CONTEXT, supported_regions=tuple(regions), leniency=self.LENIENCY, name=self.NAME
        )

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Phone spans; a bare digit run scores low because it is as likely an order or invoice number."""
        if not _PHONE_CANDIDATE.search(text):
            return []
        spans = {(m.start, m.end) for m in self._matches(text) if not _NOT_PHONE.fullmatch(m.raw_string)}
        spans |= {
            m.span() for m in _PHONE_SHAPES.finditer(text) if _digit_count(m.group()) >= _MIN_SHAPE_DIGITS
        }
        results = [
            self._result(text, start, end) for start, end in spans if not _in_decimal(text, start, end)
        ]
        return EntityRecognizer.remove_duplicates(results)

    def _matches(self, text: str) -> Iterable[phonenumbers.PhoneNumberMatch]:
        for region in self.supported_regions:
            yield from phonenumbers.PhoneNumberMatcher(text, region, leniency=self.LENIENCY)
        # With no region only numbers with a country code are found; POSSIBLE keeps reserved and
        # fictional ranges (+44 7700 900xxx) that the metadata marks as unallocated.
        yield from phonenumbers.PhoneNumberMatcher(text, "ZZ", leniency=Leniency.POSSIBLE)

    def _result(self, text: str, start: int, end: int) -> RecognizerResult:
        # A bare run that starts with a trunk 0 is a national phone number; other bare runs are
        # as often order or invoice numbers.
        raw = text[start:end]
        score = self.BARE_SCORE if raw.isdigit() and not raw.startswith("0") else self.FORMATTED_SCORE
        return RecognizerResult(
            entity_type="PHONE_NUMBER",
            start=start,
            end=end,
            score=score,
            analysis_explanation=AnalysisExplanation(
                recognizer=self.NAME, original_score=score, textual_explanation="phonenumbers match"
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.NAME,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


def _bsn_is_valid(digits: str) -> bool:
    """The Dutch "elfproef": weights 9..2 and -1 for the last digit, the sum divisible by 11."""
    if len(digits) != 9 or not digits.isdigit() or int(digits) == 0:
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


class _NlBsnRecognizer(PatternRecognizer):
    """Dutch citizen service number: nine digits passing the 11-check, only next to a context word."""

    def __init__(self) -> None:
        # Nine-digit order numbers pass the 11-check one time in eleven, so the checksum only rules
        # matches out and the score stays below the threshold until "BSN" or similar is near.
        super().__init__(
            supported_entity="NL_BSN",
            patterns=[
                Pattern("BSN", r"\b\d{9}\b", 0.2),
                Pattern("BSN dotted", r"\b\d{4}\.\d{2}\.\d{3}\b", 0.2),
            ],
            context=["bsn", "burgerservicenummer", "sofinummer", "sofi"],
            supported_language=LANGUAGE,
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        """Rule out matches that fail the 11-check."""
        return not _bsn_is_valid(pattern_text.replace(".", ""))


_UPPER = "A-ZÀ-ÖØ-Þ"
_NAME = rf"[{_UPPER}][\w'’.-]*"
_CITY = rf"[{_UPPER}][a-zà-ÿß'’-]+(?:[ -][{_UPPER}][a-zà-ÿß'’-]+){{0,2}}"
_EN_TYPES = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|court|ct|place|pl|way|close|crescent|"
    "terrace|square|sq|parkway|pkwy|highway|hwy|row|mews|gardens|grove"
)
_EN_TAIL = (
    r"(?:,?\s+(?i:apt|apartment|unit|suite|ste|flat)\.?\s*#?\s*[\w-]+)?"
    rf"(?:,\s*{_CITY})?"
    r"(?:(?:,?\s+[A-Z]{2})?,?\s+\d{5}(?:-\d{4})?\b|,?\s+[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b)?"
)
_COMPOUND_TYPES = (
    r"straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|"
    r"straat|laan|plein|gracht|kade|singel|dijk|steeg"
)
_WORD_TYPES = r"Straße|Strasse|Str\.|Weg|Gasse|Platz|Allee|Ring|Damm|Ufer"
_LEAD_WORDS = r"(?:(?:Am|An der|Auf dem|Im|In der|Zum|Zur|Op de|Aan de)\s)?"
_HOUSE_NUMBER = r"\d{1,4}(?!\d)(?:\s?(?:hs|bis|[a-zA-Z])\b|-\w{1,4}\b)?"
_CONTINENTAL_POSTCODE = rf"(?:,?\s+(?:\d{{5}}|\d{{4}}\s?[A-Z]{{2}})(?:\s+{_CITY})?)?"
_ROMANCE_PREFIX = (
    r"Calle|C/|Avenida|Avda\.|Plaza|Paseo|Camino|Carrer|Ronda|Via|Viale|Piazza|Piazzale|Corso|Vicolo|Largo"
)
_ROMANCE_LINK = r"(?:(?:de|del|della|delle|dei|degli|di|la|las|los|el|le|lo)\s+)*"
_FR_LINK = r"(?:(?:de|du|des|la|le)\s+|[ld]['’])*"

ADDRESS_PATTERNS = [
    # 221B Baker Street, London NW1 6XE / 1600 Main St, Springfield, IL 62704-1234
    Pattern(
        "street, number first",
        rf"\b\d{{1,5}}[A-Za-z]?(?:-\d{{1,5}})?,?\s+(?:{_NAME}\s+){{1,4}}(?i:{_EN_TYPES})\b\.?{_EN_TAIL}",
        0.6,
    ),
    # Hauptstraße 5, 10115 Berlin / Berliner Straße 12a / Keizersgracht 123, 1015 CJ Amsterdam
    Pattern(
        "street, number after",
        rf"\b(?:{_LEAD_WORDS}[{_UPPER}][\w'’-]*?(?:{_COMPOUND_TYPES})|{_NAME}\s(?:{_WORD_TYPES}))"
        rf"\s*{_HOUSE_NUMBER}{_CONTINENTAL_POSTCODE}",
        0.6,
    ),
    # Calle de Alcalá 42, 3º B, 28014 Madrid / Via Roma 12, 00184 Roma
    Pattern(
        "street, type first",
        rf"(?<![\w/])(?:{_ROMANCE_PREFIX})\s+{_ROMANCE_LINK}{_NAME}(?:\s+{_ROMANCE_LINK}{_NAME}){{0,3}},?\s+"
        rf"(?:n[º°o.]\s*)?\d{{1,4}}[a-zA-Z]?\b(?:,?\s*\d{{1,2}}\s?[º°ª]\s?[A-Z]?\b)?{_CONTINENTAL_POSTCODE}",
        0.6,
    ),
    # P.O. Box 1234, Springfield, IL 62704
    Pattern("PO box", rf"\bP\.?\s?O\.?\s?Box\s+\d{{1,6}}\b{_EN_TAIL}", 0.6),
    # 12 rue de la Paix, 75002 Paris
    Pattern(
        "rue, number first",
        rf"\b\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|boulevard|bd|place|allée|chemin|impasse|quai)"
        rf"\s+{_FR_LINK}{_NAME}(?:[\s-]+{_FR_LINK}{_NAME}){{0,3}}{_CONTINENTAL_POSTCODE}",
        0.6,
    ),
]


def _address_recognizer() -> PatternRecognizer:
    # Case matters here (capitalised street names), so the default IGNORECASE flag is dropped.
    return PatternRecognizer(
        supported_entity="ADDRESS",
        name="AddressRecognizer",
        patterns=ADDRESS_PATTERNS,
        supported_language=LANGUAGE,
        global_regex_flags=re.MULTILINE,
    )


def _ssn_recognizer() -> UsSsnRecognizer:
    # Presidio's unformatted patterns score 0.05, too low for a context word to lift; nine bare digits
    # next to "SSN" are an SSN, and alone they are an order number.
    patterns = [
        Pattern("SSN formatted", r"\b\d{3}[- .]\d{2}[- .]\d{4}\b", 0.5),
        Pattern("SSN bare", r"\b\d{9}\b", 0.2),
    ]
    return UsSsnRecognizer(patterns=patterns, context=["ssn", "ss#", "social"], supported_language=LANGUAGE)


# Card numbers by issuer prefix and length, contiguous or in the printed groups with one separator.
# Presidio's pattern accepts any 3-4 digit split, so it also fires inside longer hyphenated order ids
# ("123-4567890-1234567") whenever a slice happens to pass Luhn; these stop at a digit or hyphen.
CARD_PATTERNS = [
    Pattern(
        "Card contiguous",
        r"(?<![\d-])(?:4\d{12}(?:\d{3})?|5[1-5]\d{14}|2[2-7]\d{14}|3[47]\d{13}|6(?:011|5\d\d)\d{12}"
        r"|3(?:0[0-5]|[689]\d)\d{11})(?![\d-])",
        0.3,
    ),
    Pattern("Card 4-4-4-4", r"(?<![\d-])[2-6]\d{3}([ -])\d{4}\1\d{4}\1\d{4}(?![\d-])", 0.3),
    Pattern("Card 4-6-5 / 4-6-4", r"(?<![\d-])3\d{3}([ -])\d{6}\1\d{4,5}(?![\d-])", 0.3),
]


def _credit_card_recognizer() -> CreditCardRecognizer:
    # The Luhn check is Presidio's; it lifts a valid match to 1.0 and drops the rest.
    return CreditCardRecognizer(patterns=CARD_PATTERNS, supported_language=LANGUAGE)


def build_recognizers(phone_regions: Sequence[str] = PHONE_REGIONS) -> list[EntityRecognizer]:
    """The recognizers behind `ENTITY_GROUPS`, all pattern- or library-based, none needing a model."""
    return [
        _OfflineEmailRecognizer(supported_language=LANGUAGE),
        _PhoneRecognizer(phone_regions),
        _credit_card_recognizer(),
        IbanRecognizer(supported_language=LANGUAGE),
        _ssn_recognizer(),
        UkNinoRecognizer(supported_language=LANGUAGE),
        EsNifRecognizer(supported_language=LANGUAGE),
        EsNieRecognizer(supported_language=LANGUAGE),
        ItFiscalCodeRecognizer(supported_language=LANGUAGE),
        _NlBsnRecognizer(),
        _address_recognizer(),
    ]


def build_analyzer(phone_regions: Sequence[str] = PHONE_REGIONS) -> AnalyzerEngine:
    """An AnalyzerEngine over a blank spaCy pipeline with only our recognizers: nothing is downloaded."""
    registry = RecognizerRegistry(
        recognizers=build_recognizers(phone_regions), supported_languages=[LANGUAGE]
    )
    return AnalyzerEngine(registry=registry, nlp_engine=BlankSpacyNlpEngine(), supported_languages=[LANGUAGE])


def _resolve_entities(entities: Sequence[str]) -> tuple[str, ...]:
    """Expand group names to recognizer entities; a recognizer entity may also be named directly."""
    resolved: list[str] = []
    for name in entities:
        if name in ENTITY_GROUPS:
            resolved.extend(ENTITY_GROUPS[name])
        elif name in _GROUP_OF:
            resolved.append(name)
        else:
            raise ValueError(f"unknown PII entity {name!r}; known: {sorted({*ENTITY_GROUPS, *_GROUP_OF})}")
    return tuple(dict.fromkeys(resolved))


def _overlap(a: PiiSpan, b: PiiSpan) -> bool:
    return a.start < b.end and b.start < a.end


def _strictly_contains(outer: PiiSpan, inner: PiiSpan) -> bool:
    longer = outer.end - outer.start > inner.end - inner.start
    return longer and outer.start <= inner.start and inner.end <= outer.end


def select_non_overlapping(spans: Iterable[PiiSpan]) -> list[PiiSpan]:
    """Keep the best of overlapping spans (higher score, then longer), returned in text order.

    A lower-scored span that strictly contains every kept span it overlaps replaces them: an address whose
    ZIP+4 also reads as a phone number is redacted whole rather than leaving the street behind.
    """
    ranked = sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start))
    kept: list[PiiSpan] = []
    for span in ranked:
        clashes = [k for k in kept if _overlap(span, k)]
        if all(_strictly_contains(span, k) for k in clashes):
            kept = [k for k in kept if k not in clashes] + [span]
    return sorted(kept, key=lambda s: s.start)


def replace_spans(text: str, spans: Sequence[PiiSpan]) -> str:
    """Replace non-overlapping spans, in text order, by their typed placeholders."""
    parts: list[str] = []
    cursor = 0
    for span in spans:
        parts.append(text[cursor : span.start])
        parts.append(placeholder(span.entity))
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)


# Every entity recognised here has a digit (house numbers, ids, card and phone numbers) or an @: text
# with neither, most log lines among it, skips the analyzer.
_MAY_HOLD_PII = re.compile(r"[\d@]")


# Touches every lazily loaded part (phonenumbers' region metadata, the public-suffix trie) so that the
# first real message does not pay for it.
_WARM_UP_TEXT = "a@example.com +44 7700 900123 030 901820 (312) 555-0147 Via Roma 12 DE89370400440532013000"


MEMO_MAX_CHARS = 256
"""Texts up to this long have their spans remembered: log lines repeat the same short values (a path,
a client address, a version) on every request, and analysing one costs a tenth of a millisecond or more."""
MEMO_SIZE = 4096


class Redactor:
    """Finds and replaces PII; build once per process (imports included, about 1.5 s) and share it."""

    def __init__(
        self, entities: Sequence[str] = DEFAULT_ENTITIES, min_score: float = DEFAULT_MIN_SCORE
    ) -> None:
        self.entities = _resolve_entities(entities)
        self.min_score = min_score
        self._analyzer = build_analyzer()
        # A bounded memo of the analysis (thread-safe; the analysis is a pure function of the text).
        self._remembered = lru_cache(maxsize=MEMO_SIZE)(self._analyze)
        self.find(_WARM_UP_TEXT)

    def find(self, text: str) -> list[PiiSpan]:
        """The PII spans of a text, non-overlapping, in text order."""
        if not _MAY_HOLD_PII.search(text):
            return []
        if len(text) <= MEMO_MAX_CHARS:
            return list(self._remembered(text))
        return list(self._analyze(text))

    def _analyze(self, text: str) -> tuple[PiiSpan, ...]:
        results = self._analyzer.analyze(
            text=text, language=LANGUAGE, entities=list(self.entities), score_threshold=self.min_score
        )
        return tuple(
            select_non_overlapping(PiiSpan(r.entity_type, r.start, r.end, float(r.score)) for r in results)
        )

    def redact(self, text: str) -> str:
        """The text with each PII span replaced by its placeholder, e.g. `<EMAIL_ADDRESS>`."""
        return replace_spans(text, self.find(text))


@cache
def default_redactor() -> Redactor:
    """The process-wide redactor with the default entities and threshold."""
    return Redactor()
