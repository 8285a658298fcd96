"""A person's identifiers in the knowledge index: found in any collection's documents or metadata, removed.

The index is built from help-centre articles only, so an erasure expects to find nothing here; it
looks anyway, because an article or a future collection could carry a customer's id or address.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chromadb.api import ClientAPI

PAGE = 500
"""Entries read at a time, so a large collection is never loaded whole."""


def _pattern(terms: Sequence[str]) -> re.Pattern[str]:
    """The terms as whole tokens, case-insensitive: `cus_0001` does not match inside `cus_00012`."""
    alternatives = "|".join(re.escape(term) for term in sorted(set(terms), key=len, reverse=True))
    return re.compile(rf"(?<![\w@.+-])(?:{alternatives})(?![\w@-])", re.IGNORECASE)


def entries_naming(client: ClientAPI, terms: Sequence[str]) -> dict[str, list[str]]:
    """Per collection, the ids of entries whose document or any metadata value holds one of `terms`."""
    terms = [term for term in terms if term]
    if not terms:
        return {}
    pattern = _pattern(terms)
    found: dict[str, list[str]] = {}
    for listed in client.list_collections():
        collection = client.get_collection(listed.name)
        offset = 0
        while True:
            page = collection.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
            ids = page["ids"]
            documents = page["documents"] or [""] * len(ids)
            metadatas = page["metadatas"] or [{}] * len(ids)
            for entry_id, document, metadata in zip(ids, documents, metadatas, strict=True):
                texts = [document or "", *(str(value) for value in (metadata or {}).values())]
                if any(pattern.search(text) for text in texts):
                    found.setdefault(listed.name, []).append(entry_id)
            if len(ids) < PAGE:
                break
            offset += PAGE
    return found


def delete_entries(client: ClientAPI, found: dict[str, list[str]]) -> int:
    """Delete the entries `entries_naming` found; how many."""
    for name, ids in found.items():
        client.get_collection(name).delete(ids=ids)
    return sum(len(ids) for ids in found.values())
