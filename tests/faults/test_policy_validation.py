"""Policy documents that fail validation: uploaded through the API or the CLI they are refused with a
clear 4xx (or exit code) and the active policy keeps serving; one corrupted in the store is never
deployed, and a deployment naming it is not served (workers keep the last valid policy, /readyz says
why) until the store is mended."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from routers import Router, eventually, new_conversation, post, server_env, start, stop

from app.settings import Settings
from graph.policy.schema import DEFAULT_POLICY_FILE

QUESTION = "How do I reset my password?"
BROKEN_YAML = "name: broken\nrules: [unclosed\n"
BAD_FIELDS = "name: wrong-shape\nversion: 1\nrules:\n  - id: r1\n    when: {nonsense: true}\n"


@pytest.fixture(scope="module")
def settings(make_settings: Callable[[Path], Settings], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("policy-faults") / "data")


@pytest.fixture(scope="module")
def router(settings: Settings) -> Iterator[Router]:
    router = start(settings, settings.data_dir.parent / "server.log")
    yield router
    stop(router)


async def served_by_version(client: httpx.AsyncClient, version: str) -> bool:
    response = await post(client, await new_conversation(client), QUESTION)
    assert response.status_code == 200, response.text
    return bool(response.json()["policy"]["policy_version"] == version)


@pytest.mark.parametrize("document", [BROKEN_YAML, BAD_FIELDS], ids=["not YAML", "wrong fields"])
async def test_an_invalid_policy_uploaded_through_the_api_is_refused(router: Router, document: str) -> None:
    async with router.client("admin") as admin, router.client() as widget:
        refused = await admin.post("/v1/policies", json={"document": document})
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["status"] == 422 and error["message"], error
        assert len((await admin.get("/v1/policies")).json()["versions"]) == 1
        assert await served_by_version(widget, "1")


def test_an_invalid_policy_proposed_with_the_cli_is_refused(
    router: Router, settings: Settings, tmp_path: Path
) -> None:
    document = tmp_path / "bad.yaml"
    document.write_text(BAD_FIELDS)
    env = server_env(settings) | {"SUPPORT_ROUTER_ADMIN_KEY": router.keys["admin"]}
    result = subprocess.run(
        [sys.executable, "-m", "app", "policy", "propose", str(document)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and result.stderr.strip(), result.stderr
    assert result.stderr.startswith("error: ") and "required" in result.stderr, result.stderr


async def test_a_policy_corrupted_in_the_store_is_never_served(router: Router, settings: Settings) -> None:
    database = settings.data_dir / "app.sqlite"
    original = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    # Version 2 as someone with database access wrote it: approved, with the digest of the real text,
    # but the document edited afterwards.
    with sqlite3.connect(database) as connection:
        digest = connection.execute("SELECT digest FROM policy_versions WHERE version = 1").fetchone()[0]
        connection.execute(
            "INSERT INTO policy_versions (version, name, document, digest, status, proposed_by, proposed_at, "
            "approved_by, approved_at) VALUES (2, 'default', ?, ?, 'approved', 'x', CURRENT_TIMESTAMP, 'y', "
            "CURRENT_TIMESTAMP)",
            (original.replace("priority: urgent", "priority: whenever", 1), digest),
        )
    async with router.client("admin") as admin, router.client() as widget:
        promote = await admin.post("/v1/policies/promote", json={"version": 2})
        assert promote.status_code == 409 and "cannot be deployed" in promote.text, promote.text

        # A deployment of it written behind the control plane's back is not served.
        with sqlite3.connect(database) as connection:
            connection.execute(
                "INSERT INTO policy_deployments (active_version, canary_percent, action, actor, created_at) "
                "VALUES (2, 0, 'promote', 'x', CURRENT_TIMESTAMP)"
            )

        async def degraded() -> bool:
            ready = await widget.get("/readyz")
            return ready.status_code == 200 and ready.json()["checks"]["policy"].startswith("degraded")

        await eventually(degraded, "/readyz reports the deployment it does not serve")
        assert await served_by_version(widget, "1")

        with sqlite3.connect(database) as connection:  # mended: the version's document as approved
            connection.execute("UPDATE policy_versions SET document = ? WHERE version = 2", (original,))
        await eventually(lambda: served_by_version(widget, "2"), "the mended version serves")
        assert (await widget.get("/readyz")).json()["checks"]["policy"] == "ok"
    assert router.process.poll() is None
    assert os.path.exists(database)
