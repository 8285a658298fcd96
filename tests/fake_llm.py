"""A scriptable OpenAI-compatible chat-completions server on loopback, for tests that need a real endpoint.

`FakeLLM` serves `POST /v1/chat/completions` (and `GET /v1/models`) from uvicorn in a background thread
of the test process, so a `support-router serve` subprocess (or a `ChatOpenAI` in the test) talks to it
over real HTTP, and a worker can be killed while the fake keeps running. Each request takes the next
step of a queue; when the queue is empty it gets the `always` step (by default a 500 that says the
script ran out, so an unscripted call is never mistaken for a good answer).

    with FakeLLM() as llm:                      # or llm.start() ... llm.stop()
        llm.push(text("Hello"))                 # a plain assistant message
        llm.push(json_reply({"domain": "billing"}))  # JSON content, as json_mode structured output reads it
        llm.push(tool_calls(("lookup_order", {"order_id": "o-1"})))  # the model calls a tool
        llm.push(error(500), error(429, retry_after=1))    # HTTP errors in OpenAI's error body
        llm.push(garbage(b"<html>oops"))        # a 200 whose body is not JSON (or any bytes you choose)
        llm.push(text("late").after(5))         # any step, answered after a delay
        llm.always(error(503))                  # what every request gets once the queue is empty
        gate = llm.hold_next()                  # the next request waits, unanswered, until released
        ...                                     # point the service at llm.base_url
        assert gate.wait_until_held(timeout=30) # it arrived and is waiting (e.g. kill the worker now)
        gate.release()                          # it now gets its step and is answered
        llm.requests                            # every request body received, in order

`stop()` releases every gate and closes the port; `start()` again serves on the same port, which is how
a test takes the endpoint down and brings it back. Requests with `"stream": true` get the same step as
Server-Sent Events of `chat.completion.chunk` objects. The response shapes are those `langchain-openai`
parses: `choices[0].message` with `content` and `tool_calls` (`function.arguments` a JSON string),
`finish_reason`, and `usage` with prompt/completion/total tokens.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
START_TIMEOUT_S = 15.0
HOLD_POLL_S = 0.01


@dataclass(frozen=True)
class Step:
    """How the fake answers one request; made by `text`, `json_reply`, `tool_calls`, `error`, `garbage`."""

    kind: Literal["message", "error", "garbage"]
    content: str | None = None
    calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    def after(self, seconds: float) -> Step:
        """The same step, answered `seconds` after the request arrives."""
        return replace(self, delay_s=seconds)


def text(content: str) -> Step:
    """An assistant message with this text."""
    return Step("message", content=content)


def json_reply(value: Any) -> Step:
    """An assistant message whose content is `value` as JSON (json_mode structured output)."""
    return Step("message", content=json.dumps(value))


def tool_calls(*calls: tuple[str, dict[str, Any]], content: str | None = None) -> Step:
    """An assistant message calling tools, each `(name, arguments)`; also function_calling structured
    output, whose "tool" is the schema's name."""
    return Step("message", content=content, calls=tuple(calls))


def error(status: int, message: str = "", retry_after: float | None = None) -> Step:
    """An HTTP error with OpenAI's error body (429 is a rate limit, 5xx a server error to the client)."""
    body = {"error": {"message": message or f"fake error {status}", "type": "fake_error", "code": status}}
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Step("error", status=status, body=json.dumps(body).encode(), headers=headers)


def garbage(body: bytes | str, status: int = 200, content_type: str = "application/json") -> Step:
    """Exactly these bytes, e.g. invalid JSON or a JSON object that is not a chat completion."""
    raw = body.encode() if isinstance(body, str) else body
    return Step("garbage", status=status, body=raw, content_type=content_type)


SCRIPT_RAN_OUT = error(500, "the fake LLM's script is empty")


class Gate:
    """Holds one request unanswered until `release()`; see `FakeLLM.hold_next`."""

    def __init__(self) -> None:
        self._held = threading.Event()
        self._released = threading.Event()
        self.request: dict[str, Any] | None = None
        """The body of the request it holds, once one arrived."""

    def wait_until_held(self, timeout: float) -> bool:
        """Whether a request arrived and is waiting, within `timeout` seconds."""
        return self._held.wait(timeout)

    def release(self) -> None:
        """Let the held request (or the next one to arrive) be answered."""
        self._released.set()

    @property
    def held(self) -> bool:
        """Whether a request is waiting on it now (or was, before release)."""
        return self._held.is_set()

    async def _hold(self, body: dict[str, Any]) -> None:
        self.request = body
        self._held.set()
        while not self._released.is_set():
            await asyncio.sleep(HOLD_POLL_S)


class FakeLLM:
    """The scripted server; thread-safe, so a test scripts it while the server thread answers."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.requests: list[dict[str, Any]] = []
        """Every request body received, in arrival order (also those that got errors or were held)."""
        self._lock = threading.Lock()
        self._queue: deque[Step] = deque()
        self._always: Step = SCRIPT_RAN_OUT
        self._gates: deque[Gate] = deque()
        self._all_gates: list[Gate] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """What `SUPPORT_ROUTER_LLM_BASE_URL` (or `ChatOpenAI(base_url=…)`) points at."""
        return f"http://127.0.0.1:{self.port}/v1"

    # Scripting ---------------------------------------------------------------------------------

    def push(self, *steps: Step) -> None:
        """Answer the next requests with these steps, in order."""
        with self._lock:
            self._queue.extend(steps)

    def always(self, step: Step) -> None:
        """Answer with `step` whenever the queue is empty."""
        with self._lock:
            self._always = step

    def hold_next(self) -> Gate:
        """The next request to arrive waits until the gate is released, then gets its step."""
        gate = Gate()
        with self._lock:
            self._gates.append(gate)
            self._all_gates.append(gate)
        return gate

    def reset(self) -> None:
        """Forget the queue, the `always` step, pending gates and recorded requests."""
        with self._lock:
            self._queue.clear()
            self._always = SCRIPT_RAN_OUT
            self._release_all()
            self.requests.clear()

    @property
    def pending(self) -> int:
        """Steps still queued."""
        with self._lock:
            return len(self._queue)

    def wait_for_requests(self, count: int, timeout: float) -> bool:
        """Whether `count` requests in all have arrived within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return True
            time.sleep(0.02)
        return len(self.requests) >= count

    # Serving -----------------------------------------------------------------------------------

    def start(self) -> FakeLLM:
        """Serve on `port` in a background thread; returns once it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the fake LLM is already running")
        config = uvicorn.Config(
            self._app(), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-llm", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._thread = None
                raise RuntimeError(f"the fake LLM did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Release every gate and close the port (connections in flight are ended)."""
        with self._lock:
            self._release_all()
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._server, self._thread = None, None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _release_all(self) -> None:
        for gate in self._all_gates:
            gate.release()
        self._gates.clear()

    def _take(self, body: dict[str, Any]) -> tuple[Step, Gate | None]:
        with self._lock:
            self.requests.append(body)
            step = self._queue.popleft() if self._queue else self._always
            gate = self._gates.popleft() if self._gates else None
        return step, gate

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "tests"}]}

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> Response:
            body = json.loads(await request.body())
            step, gate = self._take(body)
            if gate is not None:
                await gate._hold(body)
            if step.delay_s:
                await asyncio.sleep(step.delay_s)
            return _respond(step, str(body.get("model", "fake")), bool(body.get("stream")))

        return app


def _respond(step: Step, model: str, stream: bool) -> Response:
    if step.kind != "message":
        return Response(
            step.body, status_code=step.status, media_type=step.content_type, headers=step.headers
        )
    message: dict[str, Any] = {"role": "assistant", "content": step.content}
    if step.calls:
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": n, "arguments": a},
            }
            for n, a in ((name, json.dumps(arguments)) for name, arguments in step.calls)
        ]
    finish = "tool_calls" if step.calls else "stop"
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
    if stream:
        return StreamingResponse(
            _chunks(completion_id, model, message, finish), media_type="text/event-stream"
        )
    completion = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": USAGE,
    }
    return JSONResponse(completion)


def _chunks(completion_id: str, model: str, message: dict[str, Any], finish: str) -> Iterator[str]:
    """The message as a stream: role, content, tool calls, the finish reason, usage, then [DONE]."""

    def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> str:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    if message["content"]:
        yield chunk({"content": message["content"]})
    for index, call in enumerate(message.get("tool_calls", [])):
        yield chunk({"tool_calls": [{"index": index, **call}]})
    yield chunk({}, finish)
    usage = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
             "model": model, "choices": [], "usage": USAGE}  # fmt: skip
    yield f"data: {json.dumps(usage)}\n\n"
    yield "data: [DONE]\n\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
