"""Risk signals: things in a ticket that must reach a human, found by explainable patterns."""

from __future__ import annotations

import re
from typing import Literal

RiskSignal = Literal[
    "refund_request",
    "chargeback",
    "unrecognised_charge",
    "duplicate_charge",
    "fraud_or_takeover",
    "legal_threat",
    "human_request",
    "abuse",
    "strong_frustration",
]

_NOT = r"(?:didn'?t|did not|don'?t|do not|never|wasn'?t|was not|haven'?t|have not)"
_PAYMENT = r"(?:payments?|charges?|transactions?|debits?|direct debits?|withdrawals?|purchases?|transfers?)"

# Each signal is a list of patterns matched case-insensitively against the ticket text.
_PATTERNS: dict[RiskSignal, list[str]] = {
    "refund_request": [
        r"\brefund",
        r"\bmoney back\b",
        r"\breimburse",
        r"\bgive (?:me )?back my money\b",
        r"\breturn (?:it|this|the|my)\b.*\b(?:money|refund)\b",
    ],
    "chargeback": [r"\bcharge ?backs?\b", r"\bdispute\b", r"\bdisputing\b"],
    "unrecognised_charge": [
        rf"\b{_NOT} (?:recogni[sz]e|authori[sz]e|approve)\b.*\b{_PAYMENT}",
        # "didn't make this payment", not "don't make many payments abroad"
        rf"\b{_NOT} (?:make|made|do|set up|buy|order) (?:this|that|these|those|the|a|an)"
        rf" (?:[\w.,€$£-]+ ){{0,3}}?{_PAYMENT}\b(?! before| yet)",
        rf"\b{_PAYMENT}\b.*\b{_NOT} (?:recogni[sz]e|authori[sz]e|make|made|approve|set up|place|order)\b",
        rf"\b(?:unknown|unrecogni[sz]ed|unauthori[sz]ed|strange|suspicious|weird|random|mystery)"
        rf" (?:card )?{_PAYMENT}",
        rf"\b{_PAYMENT}\b.*\b(?:is|are|was|were|that'?s|that is|that are) not (?:mine|me)\b",
        r"\bnot mine\b",
        r"\bi (?:definitely |certainly )?(?:didn'?t|did not|never) do that\b",
        r"\bsomeone (?:else )?(?:used|is using|has used|charged|took|taken)\b",
        r"\b(?:didn'?t|did not|never) (?:order|buy|purchase|place|authori[sz]e|subscribe to)"
        r" (?:anything|it|this|that|them|these|those)\b",
        r"\bnever (?:signed|sign) up for\b",
        r"\b(?:can ?not|can'?t|unable to) identify\b",
        r"\bnever (?:heard of|seen) (?:this|that|the|these|those) (?:company|merchant|shop|store|name|"
        r"business|payments?|charges?|transactions?)\b",
        r"\b(?:company|merchant|shop|business) i(?:'ve| have)? never heard of\b",
        r"\bcontest (?:a|the|this|that) (?:payment|charge|transaction)",
    ],
    "duplicate_charge": [
        r"\b(?:charged|billed|debited|taken|deducted|paid|payment|showing|appears|shows|went through)"
        r" (?:me )?(?:twice|two times|2 times|three times|double)\b(?! a (?:day|week|month|year))",
        r"\bdouble[- ]?(?:charged|charge|billed|billing|payment|debit)",
        r"\bduplicate (?:charge|payment|transaction|debit)s?\b",
        r"\bcharged (?:me )?for the same\b",
        r"\b(?:shows?|showing|appears?|charged|taken|debited) (?:up )?(?:2|3)x\b",
        r"\bcharged (?:me )?(?:two|2|three|3|four|4) times\b",
        r"\b(?:two|2|three|3) (?:charges|payments|debits|transactions) for (?:one|1|a single|the same)\b",
    ],
    "fraud_or_takeover": [
        r"\bfraud",
        r"\bscam",
        r"\bhack(?:ed|er|ing)?\b",
        r"\bphishing\b",
        r"\bstolen\b",
        r"\bidentity theft\b",
        r"\bsomeone (?:else )?(?:has )?(?:logged|accessed|got into|is in|changed|took over)\b",
        r"\b(?:account|card) (?:was |has been )?(?:taken over|compromised)\b",
        r"\bwasn'?t me\b",
        r"\b(?:someone|somebody) (?:is |was )?in my account\b",
        r"\b(?:logins|log-ins|sign-ins|(?:login|log-in|sign-in) (?:notifications?|attempts?|alerts?))\b"
        r".*\bfrom\b.*\b(?:another|other|different|unknown|strange)\b",
        r"\b(?:device|login|log-in|sign-in)s? (?:that )?i (?:don'?t|do not) recogni[sz]e\b",
        r"\bpretending to be\b",
        r"\bnew (?:device|phone|login)\b.*\b(?:don'?t|do not) recogni[sz]e\b",
        r"\blogin notification from\b",
        r"\bsomeone (?:knows|has|got|stole) my (?:password|pin|passcode|login)\b",
        r"\b(?:my ex|he|she|they|someone|somebody) (?:has|have|got|knows) my "
        r"(?:login|password|pin|passcode|card details)",
    ],
    "legal_threat": [
        r"\blawyers?\b",
        r"\battorneys?\b",
        r"\bsu(?:e|ing)\b(?! me)",
        r"\blawsuit",
        r"\blegal action\b",
        r"\bcourt\b",
        r"\bregulator\b",
        r"\bombudsman\b",
        r"\bsmall claims\b",
        r"\bconsumer protection\b",
    ],
    "human_request": [
        r"\b(?:speak|talk|chat) (?:to|with) (?:a |an |your |some )?(?:real |live |actual )?"
        r"(?:human|person|agent|representative|rep|operator|manager|supervisor|someone|somebody|people|"
        r"staff|employee)\b",
        r"\b(?:connect|transfer|put|pass) me (?:to|with|through to|on to) (?:a |an |your |some )?"
        r"(?:real |live |actual )?(?:human|person|agent|representative|rep|operator|manager|supervisor|"
        r"someone|somebody|staff|employee)\b",
        r"\bhuman (?:agent|please|support|help|to answer)\b",
        r"\b(?:need|want|get) (?:a |an |to )?(?:speak to |talk to )?(?:a |an )?"
        r"(?:human|agent|representative|operator|real person)\b",
        r"\b(?:a |any )?(?:human|person|agent) (?:i|we) can (?:speak|talk|chat) (?:to|with)\b",
        r"\bescalate (?:this|it|my)\b",
        r"\bget me (?:a |an )?(?:real |live )?(?:human|person|agent|representative)\b",
        r"\breal (?:person|human),? please\b",
        r"\b(?:agent|human|operator|representative),? please\b",
        r"^\s*(?:agent|human|operator|representative)\s*[.!?]*\s*$",
    ],
    "abuse": [
        r"\byou(?:'re| are| r)? (?:so |such an? |a |an |completely |totally |really )?(?:stupid|idiot|"
        r"idiotic|dumb|moron|useless|pathetic|worthless|garbage|trash|incompetent|brain ?dead)\b",
        r"\b(?:stupid|dumb|useless|worthless|idiot|worst) (?:bot|machine|robot|assistant|ai)\b",
        r"\b(?:bot|assistant|machine|robot|ai) is (?:so |really |completely )?(?:stupid|dumb|useless)\b",
        r"\bf+u+c+k+",
        r"\bshit",
        r"\bbullshit\b",
        r"\bshut up\b",
        r"\bscrew you\b",
        r"\b(?:you|bunch of|such|what) (?:an? )?(?:idiots?|morons?)\b",
    ],
    "strong_frustration": [
        r"\bfurious\b",
        r"\bunacceptable\b",
        r"\bridiculous\b",
        r"\bdisgust",
        r"\boutrage",
        r"\bfed up\b",
        r"\bsick (?:and tired )?of\b",
        r"\b(?:third|fourth|fifth|3rd|4th|5th) time\b",
        r"\bworst (?:service|company|app|bank|experience)\b",
        r"(?<!not )(?<!n't )\bangry\b",
        r"\bfor (?:weeks|days|hours) now\b",
        r"\bthis is a (?:joke|disgrace|scandal)\b",
        r"\b(?:going|go) to the (?:press|media|newspapers?)\b",
        r"\bdisgrace\b",
    ],
}

_COMPILED: dict[RiskSignal, list[re.Pattern[str]]] = {
    signal: [re.compile(pattern, re.IGNORECASE) for pattern in patterns]
    for signal, patterns in _PATTERNS.items()
}


def detect_risk_signals(text: str) -> list[RiskSignal]:
    """Every signal whose patterns match, in a fixed order."""
    return [
        signal for signal, patterns in _COMPILED.items() if any(pattern.search(text) for pattern in patterns)
    ]
