"""Service settings from SUPPORT_ROUTER_* environment variables, with embedded defaults."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from agents.toolkit import Toolkit
from app.store.database import default_url
from graph.context import Context
from graph.customers import CustomerDirectory
from graph.policy.deployment import PolicySet, default_policy_set
from knowledge.articles import DEFAULT_ARTICLES_DIR

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRIAGE_MODEL = PROJECT_ROOT / "build" / "triage-head"


class Settings(BaseSettings):
    """Everything configurable; `SUPPORT_ROUTER_DATA_DIR=/srv/router` sets `data_dir`, and so on."""

    model_config = SettingsConfigDict(
        env_prefix="SUPPORT_ROUTER_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(default=Path("var"), description="Where everything the service writes lives.")
    triage_model: Path = Field(default=DEFAULT_TRIAGE_MODEL, description="Folder of the trained triage head.")
    articles_dir: Path = Field(default=DEFAULT_ARTICLES_DIR, description="Help-centre articles to index.")
    index_dir_override: Path | None = Field(
        default=None,
        alias="SUPPORT_ROUTER_INDEX_DIR",
        description="The Chroma directory, when it is not `data_dir/chroma`.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL of the app store; default SQLite under the data dir.",
    )
    rate_limit: str = Field(
        default="50/second;1000/minute", description="Per-key request limit (limits' notation)."
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body accepted.")
    embedding_threads: int = Field(
        default=1, ge=1, le=64, description="onnxruntime threads per embedding forward pass."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    policy_refresh_seconds: float = Field(
        default=5.0, gt=0, description="How often a worker checks for a new policy deployment."
    )
    seed_demo_customers: bool = Field(
        default=True, description="Fill an empty customers table with the demo portfolio on start."
    )
    customer_directory: str | None = Field(
        default=None,
        description="`package.module:factory` of a CustomerDirectory (e.g. a CRM adapter) taking the "
        "settings; default the customers table of the app store.",
    )
    new_issue_threshold: float = Field(default=0.7, ge=0, le=1)
    retrieval_max_distance: float = Field(default=0.66, gt=0, le=2)
    top_k: int = Field(default=4, ge=1, le=20)
    loop_guard_window: int = Field(default=4, ge=2)
    loop_guard_max_switches: int = Field(default=2, ge=1)

    @property
    def index_dir(self) -> Path:
        """The persistent Chroma directory."""
        return self.index_dir_override or self.data_dir / "chroma"

    @property
    def store_url(self) -> str:
        """Where the app store lives."""
        return self.database_url or default_url(self.data_dir)

    def context(
        self,
        toolkit: Toolkit,
        customer_id: str | None = None,
        *,
        customers: CustomerDirectory | None = None,
        policies: PolicySet | None = None,
        channel: str = "chat",
        received_at: datetime | None = None,
    ) -> Context:
        """The run context of one turn."""
        return Context(
            toolkit=toolkit,
            customer_id=customer_id,
            customers=customers,
            policies=policies or default_policy_set(),
            channel=channel,
            received_at=received_at,
            new_issue_threshold=self.new_issue_threshold,
            retrieval_max_distance=self.retrieval_max_distance,
            top_k=self.top_k,
            loop_guard_window=self.loop_guard_window,
            loop_guard_max_switches=self.loop_guard_max_switches,
        )
