"""Policy registry and control: workers see deployments after their refresh interval; changes are governed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from policy_helpers import default_policy_text

from app.policies import PolicyControl, PolicyRegistry
from app.refusals import ConflictError
from app.store.database import default_url
from app.store.keys import Principal
from app.store.policies import PolicyStore
from app.store.store import open_store

ANA = Principal(key_id="k-ana", role="admin", name="ana")
BEN = Principal(key_id="k-ben", role="admin", name="ben")
TINY_REFRESH = 0.05
LONG_REFRESH = 3600.0


@pytest.fixture
async def policies(tmp_path: Path) -> AsyncIterator[PolicyStore]:
    async with open_store(default_url(tmp_path)) as store:
        yield store.policies


@pytest.fixture
async def control(policies: PolicyStore) -> PolicyControl:
    """The control plane of one worker, with the default installed as version 1."""
    control = PolicyControl(policies, PolicyRegistry(policies))
    assert await control.install_default() is not None
    return control


def variant(number: int) -> str:
    """The default policy under another description: a distinct, valid version."""
    text = default_policy_text()
    marker = "\ndescription: "
    assert marker in text
    return text.replace(marker, f"\ndescription: variant {number}. ", 1)


async def approved(control: PolicyControl, number: int) -> int:
    """Propose as ana and approve as ben; the new version's number."""
    version = await control.propose(variant(number), ANA)
    await control.approve(version.version, BEN)
    return version.version


async def test_another_worker_sees_a_deployment_after_its_refresh_interval(
    policies: PolicyStore, control: PolicyControl
) -> None:
    other = PolicyRegistry(policies, refresh_seconds=TINY_REFRESH)
    assert (await other.current()).active.version == "1"

    version = await approved(control, 2)
    await control.canary(version, 25, ANA)
    await asyncio.sleep(TINY_REFRESH * 2)
    seen = await other.current()
    assert seen.active.version == "1"
    assert seen.canary is not None and seen.canary.version == "2" and seen.canary_percent == 25

    await control.promote(None, ANA)
    await asyncio.sleep(TINY_REFRESH * 2)
    seen = await other.current()
    assert (seen.active.version, seen.canary, seen.canary_percent) == ("2", None, 0.0)
    assert (await control.registry.current()).active.version == "2"  # the deploying worker at once


async def test_a_worker_keeps_its_cached_policy_until_the_interval_passes(
    policies: PolicyStore, control: PolicyControl
) -> None:
    other = PolicyRegistry(policies, refresh_seconds=LONG_REFRESH)
    assert (await other.current()).active.version == "1"
    await control.promote(await approved(control, 2), ANA)
    assert (await other.current()).active.version == "1"
    await other.refresh()
    assert (await other.current()).active.version == "2"


async def test_rollback_goes_back_exactly_one_active_version(control: PolicyControl) -> None:
    await control.promote(await approved(control, 2), ANA)
    await control.promote(await approved(control, 3), ANA)
    assert (await control.registry.current()).active.version == "3"

    rolled_back = await control.rollback(BEN)
    assert (rolled_back.active_version, rolled_back.canary_version) == (2, None)
    assert rolled_back.action == "rollback"
    assert (await control.registry.current()).active.version == "2"

    # A second rollback goes one further back, not forward to the version just rolled back.
    assert (await control.rollback(BEN)).active_version == 1
    with pytest.raises(ConflictError, match="nothing earlier"):
        await control.rollback(BEN)


async def test_rollback_during_a_canary_drops_the_canary(control: PolicyControl) -> None:
    await control.canary(await approved(control, 2), 10, ANA)
    rolled_back = await control.rollback(ANA)
    assert (rolled_back.active_version, rolled_back.canary_version) == (1, None)
    assert rolled_back.canary_percent == 0
    with pytest.raises(ConflictError, match="nothing earlier"):
        await control.rollback(ANA)


async def test_a_canary_needs_an_approved_version(control: PolicyControl) -> None:
    draft = await control.propose(variant(2), ANA)
    with pytest.raises(ConflictError, match="draft"):
        await control.canary(draft.version, 10, ANA)
    with pytest.raises(ConflictError, match="draft"):
        await control.promote(draft.version, ANA)
    assert (await control.registry.current()).canary is None


async def test_promote_without_a_canary_is_refused(control: PolicyControl) -> None:
    await approved(control, 2)
    with pytest.raises(ConflictError, match="no canary to promote"):
        await control.promote(None, ANA)
    assert (await control.registry.current()).active.version == "1"


async def test_the_proposer_cannot_approve(control: PolicyControl, policies: PolicyStore) -> None:
    draft = await control.propose(variant(2), ANA)
    with pytest.raises(ConflictError, match="another admin must approve"):
        await control.approve(draft.version, ANA)
    stored = await policies.get(draft.version)
    assert stored is not None and stored.status == "draft" and stored.approved_by is None


async def test_the_default_policy_is_installed_once(control: PolicyControl, policies: PolicyStore) -> None:
    assert await control.install_default() is None
    assert [v.version for v in await policies.versions()] == [1]
    assert [d.action for d in await policies.deployments()] == ["install"]
