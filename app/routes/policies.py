"""The policy control plane over HTTP: admins propose, approve, canary, promote and roll back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.auth import Admin
from app.deps import ServiceDep
from app.errors import ERROR_RESPONSES
from app.policy_metrics import VersionMetrics, version_metrics
from app.refusals import NotFoundError
from app.store.models import PolicyDeployment, PolicyVersion

router = APIRouter(prefix="/v1/policies", tags=["policies"], responses=ERROR_RESPONSES)

MAX_POLICY_CHARS = 60_000  # with the JSON around it, still under the default 64 KiB body limit
MAX_VERSION = 2**31 - 1  # the largest integer every supported database stores
VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="A policy version number.")]


class PolicyVersionOut(BaseModel):
    """One immutable policy version."""

    version: int
    name: str
    status: str = Field(description="draft or approved")
    digest: str = Field(description="sha256 of the document's content, ignoring comments and layout.")
    proposed_by: str
    proposed_at: datetime
    approved_by: str | None
    approved_at: datetime | None


class PolicyDocumentOut(PolicyVersionOut):
    """A version with its YAML exactly as proposed."""

    document: str


class DeploymentOut(BaseModel):
    """What serves traffic after a change."""

    active_version: int
    canary_version: int | None
    canary_percent: float
    action: str
    actor: str
    created_at: datetime


class PoliciesOut(BaseModel):
    """Every version and the deployment in force."""

    deployment: DeploymentOut | None
    versions: list[PolicyVersionOut]


class ProposeIn(BaseModel):
    """A new policy document."""

    model_config = ConfigDict(extra="forbid")
    document: str = Field(min_length=1, max_length=MAX_POLICY_CHARS, description="The policy as YAML.")


class CanaryIn(BaseModel):
    """Serve a version to a share of customers."""

    model_config = ConfigDict(extra="forbid")
    # Strict: `true` is not a share (lax validation would read it as 1).
    percent: float = Field(strict=True, ge=0, lt=100, description="Share of customers, 0 stops the canary.")


class PromoteIn(BaseModel):
    """Make a version active for everyone."""

    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="An approved version, or the canary."
    )

    @field_validator("version", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: object) -> object:
        # Lax validation reads `true` as 1; strict would refuse 3.0, which JSON Schema calls an integer.
        if isinstance(value, bool):
            raise ValueError("a version is a number, not a boolean")
        return value


def version_out(version: PolicyVersion) -> PolicyVersionOut:
    """The API view of a stored version."""
    return PolicyVersionOut.model_validate(version, from_attributes=True)


def deployment_out(deployment: PolicyDeployment) -> DeploymentOut:
    """The API view of a deployment."""
    return DeploymentOut.model_validate(deployment, from_attributes=True)


@router.get("", response_model=PoliciesOut)
async def list_policies(principal: Admin, service: ServiceDep) -> PoliciesOut:
    """Every version, and which serve traffic."""
    deployment = await service.store.policies.deployment()
    return PoliciesOut(
        deployment=deployment_out(deployment) if deployment else None,
        versions=[version_out(v) for v in await service.store.policies.versions()],
    )


@router.get("/metrics", response_model=list[VersionMetrics])
async def policy_metrics(principal: Admin, service: ServiceDep) -> list[VersionMetrics]:
    """Per version: turns, escalation rate, automated resolution and SLA attainment (canary vs active)."""
    return await version_metrics(service.store)


@router.get("/{version}", response_model=PolicyDocumentOut)
async def get_policy(version: VersionPath, principal: Admin, service: ServiceDep) -> PolicyDocumentOut:
    """One version with its document."""
    stored = await service.store.policies.get(version)
    if stored is None:
        raise NotFoundError(f"no policy version {version}")
    return PolicyDocumentOut.model_validate(stored, from_attributes=True)


@router.post("", response_model=PolicyVersionOut, status_code=201)
async def propose_policy(body: ProposeIn, principal: Admin, service: ServiceDep) -> PolicyVersionOut:
    """Validate and store a new draft version (422 names every bad field)."""
    return version_out(await service.policy_control.propose(body.document, principal))


@router.post("/{version}/approve", response_model=PolicyVersionOut)
async def approve_policy(version: VersionPath, principal: Admin, service: ServiceDep) -> PolicyVersionOut:
    """Approve a draft; the admin who proposed it cannot (409)."""
    return version_out(await service.policy_control.approve(version, principal))


@router.post("/{version}/canary", response_model=DeploymentOut)
async def canary_policy(
    version: VersionPath, body: CanaryIn, principal: Admin, service: ServiceDep
) -> DeploymentOut:
    """Serve an approved version to `percent` of customers, chosen by hashing the customer id."""
    return deployment_out(await service.policy_control.canary(version, body.percent, principal))


@router.post("/promote", response_model=DeploymentOut)
async def promote_policy(body: PromoteIn, principal: Admin, service: ServiceDep) -> DeploymentOut:
    """Make the canary (or the named approved version) active for everyone."""
    return deployment_out(await service.policy_control.promote(body.version, principal))


@router.post("/rollback", response_model=DeploymentOut)
async def rollback_policy(principal: Admin, service: ServiceDep) -> DeploymentOut:
    """Go back to the previously active version and stop any canary."""
    return deployment_out(await service.policy_control.rollback(principal))
