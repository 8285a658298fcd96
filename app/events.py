"""Live conversation events: an in-process hub that fans each event out to the open streams."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# A stream that falls this far behind loses live progress events; durable ones it can replay.
QUEUE_SIZE = 1000


@dataclass(frozen=True)
class LiveEvent:
    """One event on a conversation's stream; durable events carry their stored id."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


class EventHub:
    """Subscribers per conversation; publishing never blocks the turn that publishes."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[LiveEvent]]] = defaultdict(set)

    @contextmanager
    def subscribe(self, conversation_id: str) -> Iterator[asyncio.Queue[LiveEvent]]:
        """A queue of this conversation's events for as long as the block runs."""
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._subscribers[conversation_id].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[conversation_id].discard(queue)
            if not self._subscribers[conversation_id]:
                del self._subscribers[conversation_id]

    def publish(self, conversation_id: str, event: LiveEvent) -> None:
        """Hand the event to every open stream of the conversation."""
        for queue in self._subscribers.get(conversation_id, ()):
            if not queue.full():
                queue.put_nowait(event)
