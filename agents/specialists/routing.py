"""Which specialist owns which triage category and which knowledge-base domain."""

from typing import Literal

from agents.triage.dataset import Category
from knowledge.articles import Domain

Specialist = Literal["billing", "access", "technical", "refunds", "general"]
SPECIALISTS: tuple[Specialist, ...] = ("billing", "access", "technical", "refunds", "general")

SPECIALIST_FOR: dict[Category, Specialist] = {
    "billing": "billing",
    "account_access": "access",
    "technical": "technical",
    "refund": "refunds",
    "other": "general",
}
CATEGORY_OF: dict[Specialist, Category] = {s: c for c, s in SPECIALIST_FOR.items()}
DOMAIN_OF: dict[Specialist, Domain] = {s: s for s in SPECIALISTS}
