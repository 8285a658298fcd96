"""Looking for a customer's identifiers in the knowledge index: whole tokens, documents and metadata."""

from __future__ import annotations

from pathlib import Path

from knowledge.personal_data import delete_entries, entries_naming
from knowledge.store import open_client


def test_entries_naming_a_customer_are_found_in_any_collection_and_deleted(tmp_path: Path) -> None:
    client = open_client(tmp_path / "index")
    notes = client.get_or_create_collection("notes", embedding_function=None)
    notes.add(
        ids=["doc", "meta", "mail", "longer-id", "nobody"],
        embeddings=[[float(i), 1.0, 0.0] for i in range(5)],
        documents=[
            "Ticket from cus_0042, about a refund.",
            "A note.",
            "Write to JANE.DOE@example.com please.",
            "Ticket from cus_00421 and from xcus_0042.",
            "Nothing personal.",
        ],
        metadatas=[{"kind": "a"}, {"customer": "cus_0042"}, {"kind": "a"}, {"kind": "a"}, {"kind": "a"}],
    )
    other = client.get_or_create_collection("other", embedding_function=None)
    other.add(ids=["x"], embeddings=[[0.0, 0.0, 1.0]], documents=["cus_0042"], metadatas=[{"kind": "a"}])

    found = entries_naming(client, ["cus_0042", "jane.doe@example.com", ""])
    assert {name: sorted(ids) for name, ids in found.items()} == {
        "notes": ["doc", "mail", "meta"],
        "other": ["x"],
    }
    assert delete_entries(client, found) == 4
    assert entries_naming(client, ["cus_0042", "jane.doe@example.com"]) == {}
    assert sorted(notes.get(include=[])["ids"]) == ["longer-id", "nobody"]


def test_no_identifiers_find_nothing(tmp_path: Path) -> None:
    client = open_client(tmp_path / "index")
    client.get_or_create_collection("notes", embedding_function=None).add(
        ids=["a"], embeddings=[[1.0, 0.0]], documents=["anything"], metadatas=[{"kind": "a"}]
    )
    assert entries_naming(client, []) == {} and entries_naming(client, [""]) == {}
