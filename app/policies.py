"""The policy control plane: propose, approve, canary, promote and roll back, and the cache turns read."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.refusals import ConflictError, InputError, NotFoundError
from app.store.audit import AuditEntry
from app.store.keys import Principal
from app.store.models import PolicyDeployment, PolicyVersion
from app.store.policies import PolicyStore
from graph.policy.deployment import PolicySet
from graph.policy.evaluate import Policy
from graph.policy.schema import (
    DEFAULT_POLICY_FILE,
    PolicyDocument,
    PolicyError,
    document_digest,
    parse_policy,
    policy_digest,
)

SYSTEM_ACTOR = "system (first run)"
log = logging.getLogger("support_router")


def actor_of(principal: Principal) -> str:
    """How a person appears in the policy history and the audit log: key id and name."""
    return f"{principal.key_id}:{principal.name}"


def compile_version(version: PolicyVersion) -> Policy:
    """A stored version as the graph evaluates it.

    Versions were validated when proposed and are never edited, so a PolicyError here means the stored
    text was changed behind the control plane's back: it no longer parses, or no longer has its digest.
    """
    document = parse_policy(version.document)
    if document_digest(document) != version.digest:
        raise PolicyError([f"policy version {version.version} no longer matches its digest: it was edited"])
    return Policy(version=str(version.version), document=document)


def _change(action: str, principal_actor: str, details: Mapping[str, object]) -> AuditEntry:
    return AuditEntry(
        kind="policy_change",
        actor=principal_actor,
        conversation_id=None,
        inputs={},
        details={"action": action, **details},
    )


@dataclass
class PolicyRegistry:
    """The active and canary policies, cached in memory and refreshed when a deployment lands.

    Every process checks the newest deployment at most every `refresh_seconds`, so a change made by
    another worker or the command line takes effect without a restart. A deployment naming a version
    that fails validation (corrupted in the store) is not taken: the policies in force keep serving
    (on a fresh start, those of the newest deployment that validates) and `problem` says why.
    """

    store: PolicyStore
    refresh_seconds: float = 5.0
    problem: str | None = None
    """Why the newest deployment is not the one serving, or None when it is."""
    _current: PolicySet | None = None
    _deployment_id: int | None = None
    _checked_at: float = 0.0
    _compiled: dict[int, Policy] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def current(self) -> PolicySet:
        """The policies in force, refreshed when stale."""
        if self._current is None or time.monotonic() - self._checked_at >= self.refresh_seconds:
            await self.refresh()
        assert self._current is not None  # refresh sets it or raises
        return self._current

    async def refresh(self) -> None:
        """Reload when the newest deployment differs from the cached one."""
        async with self._lock:
            deployment = await self.store.deployment()
            self._checked_at = time.monotonic()
            if deployment is None:
                raise NotFoundError("no routing policy is deployed; run `support-router policy install`")
            if deployment.id == self._deployment_id and self._current is not None:
                return
            try:
                self._current = await self._policy_set(deployment)
            except PolicyError as error:
                self.problem = f"deployment {deployment.id} is not served: {error}"
                log.error("%s", self.problem)
                if self._current is None:
                    self._current = await self._newest_valid()
                return  # checked again at the next refresh, in case the store is mended
            self._deployment_id = deployment.id
            self.problem = None

    async def _policy_set(self, deployment: PolicyDeployment) -> PolicySet:
        active = await self._policy(deployment.active_version)
        canary = await self._policy(deployment.canary_version) if deployment.canary_version else None
        return PolicySet(active, canary, deployment.canary_percent if canary else 0.0)

    async def _newest_valid(self) -> PolicySet:
        """The policies of the newest deployment whose versions all validate."""
        for deployment in await self.store.deployments():
            try:
                return await self._policy_set(deployment)
            except PolicyError:
                continue
        raise NotFoundError("no deployed routing policy validates; propose and promote a valid one")

    async def _policy(self, version: int) -> Policy:
        if version not in self._compiled:
            stored = await self.store.get(version)
            if stored is None:
                raise NotFoundError(f"policy version {version} is deployed but missing")
            self._compiled[version] = compile_version(stored)
        return self._compiled[version]


def active_stack(history: list[PolicyDeployment]) -> list[int]:
    """The versions made active in turn, minus those rolled back: rolling back twice goes back two."""
    stack: list[int] = []
    for deployment in reversed(history):  # oldest first
        if deployment.action == "rollback":
            while len(stack) > 1 and stack[-1] != deployment.active_version:
                stack.pop()
        elif not stack or stack[-1] != deployment.active_version:
            stack.append(deployment.active_version)
    return stack


@dataclass
class PolicyControl:
    """Governed changes to routing policy; every change is versioned and audited."""

    store: PolicyStore
    registry: PolicyRegistry

    @staticmethod
    def validate(text: str) -> PolicyDocument:
        """The parsed document, or InputError listing every problem by field."""
        try:
            return parse_policy(text)
        except PolicyError as error:
            raise InputError(str(error)) from error

    async def install_default(self) -> PolicyVersion | None:
        """On an empty store, the shipped default policy becomes version 1, active."""
        text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
        document = self.validate(text)
        entry = _change("install", SYSTEM_ACTOR, {"version": 1, "digest": policy_digest(text)})
        return await self.store.install(document.name, text, policy_digest(text), SYSTEM_ACTOR, entry)

    async def propose(self, text: str, principal: Principal) -> PolicyVersion:
        """A new draft version; it serves nothing until approved and deployed."""
        document = self.validate(text)
        digest = policy_digest(text)
        actor = actor_of(principal)
        entry = _change("propose", actor, {"name": document.name, "digest": digest})
        return await self.store.propose(document.name, text, digest, actor, entry)

    async def approve(self, version: int, principal: Principal) -> PolicyVersion:
        """Approve a draft; the proposer cannot approve their own."""
        stored = await self._version(version)
        actor = actor_of(principal)
        if stored.status != "draft":
            raise ConflictError(f"policy version {version} is already {stored.status}")
        if stored.proposed_by == actor:
            raise ConflictError(
                f"policy version {version} was proposed by you; another admin must approve it"
            )
        entry = _change("approve", actor, {"version": version, "digest": stored.digest})
        if not await self.store.approve(version, actor, entry):
            raise ConflictError(f"policy version {version} changed while it was being approved")
        return await self._version(version)

    async def canary(self, version: int, percent: float, principal: Principal) -> PolicyDeployment:
        """Serve an approved version to `percent` of customers (0 stops the canary)."""
        if not 0 <= percent < 100:
            raise InputError("the canary percent must be at least 0 and below 100; use promote for all")
        current = await self._deployment()
        if percent == 0:
            return await self._deploy(current, current.active_version, None, 0.0, "stop_canary", principal)
        stored = await self._approved(version)
        if stored.version == current.active_version:
            raise ConflictError(f"policy version {version} is already active")
        return await self._deploy(current, current.active_version, version, percent, "canary", principal)

    async def promote(self, version: int | None, principal: Principal) -> PolicyDeployment:
        """Make the canary (or the given approved version) active for everyone."""
        current = await self._deployment()
        target = version if version is not None else current.canary_version
        if target is None:
            raise ConflictError("there is no canary to promote; name a version")
        await self._approved(target)
        if target == current.active_version:
            raise ConflictError(f"policy version {target} is already active")
        return await self._deploy(current, target, None, 0.0, "promote", principal)

    async def rollback(self, principal: Principal) -> PolicyDeployment:
        """One step back: the version that was active before the current one, with no canary."""
        history = await self.store.deployments()
        if not history:
            raise NotFoundError("no policy has been deployed")
        current = history[0]
        stack = active_stack(history)
        if len(stack) > 1:
            target = stack[-2]
        elif current.canary_version is not None:
            target = current.active_version  # nothing earlier to go back to: rolling back drops the canary
        else:
            raise ConflictError(f"version {current.active_version} has nothing earlier to roll back to")
        return await self._deploy(current, target, None, 0.0, "rollback", principal)

    async def _deploy(
        self,
        current: PolicyDeployment,
        active: int,
        canary: int | None,
        percent: float,
        action: str,
        principal: Principal,
    ) -> PolicyDeployment:
        actor = actor_of(principal)
        details = {
            "active": active,
            "canary": canary,
            "percent": percent,
            "was_active": current.active_version,
        }
        entry = _change(action, actor, details)
        deployment = await self.store.deploy(current.id, active, canary, percent, action, actor, entry)
        if deployment is None:
            raise ConflictError("another policy change landed meanwhile; look again and retry")
        await self.registry.refresh()
        return deployment

    async def _deployment(self) -> PolicyDeployment:
        deployment = await self.store.deployment()
        if deployment is None:
            raise NotFoundError("no policy has been deployed")
        return deployment

    async def _version(self, version: int) -> PolicyVersion:
        stored = await self.store.get(version)
        if stored is None:
            raise NotFoundError(f"no policy version {version}")
        return stored

    async def _approved(self, version: int) -> PolicyVersion:
        stored = await self._version(version)
        if stored.status != "approved":
            raise ConflictError(f"policy version {version} is a draft; another admin must approve it first")
        try:
            compile_version(stored)
        except PolicyError as error:
            raise ConflictError(f"policy version {version} cannot be deployed: {error}") from error
        return stored
