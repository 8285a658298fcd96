"""A customer directory that waits at a gate: how the SQLite crash test stops a worker mid-turn.

`SUPPORT_ROUTER_CUSTOMER_DIRECTORY=gated_directory:gated` (with this folder on PYTHONPATH) makes every
lookup touch `<gate>.arrived` and then wait while the file named by CRASH_TEST_GATE exists; the
customer is then unknown. The enrich node asks after the message is stored and before any checkpoint.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from app.settings import Settings
from graph.policy.value import CustomerFacts

POLL_S = 0.05


class GatedDirectory:
    """Knows no customer, and answers only once the gate file is gone."""

    def __init__(self, gate: Path) -> None:
        self.gate = gate

    async def facts(self, customer_id: str) -> CustomerFacts | None:
        self.gate.with_suffix(".arrived").touch()
        while self.gate.exists():
            await asyncio.sleep(POLL_S)
        return None


def gated(settings: Settings) -> GatedDirectory:
    """The factory SUPPORT_ROUTER_CUSTOMER_DIRECTORY names."""
    return GatedDirectory(Path(os.environ["CRASH_TEST_GATE"]))
