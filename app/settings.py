"""Service settings from SUPPORT_ROUTER_* environment variables, with embedded defaults."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agents.llm.config import (
    AgentName,
    Budgets,
    Endpoint,
    LLMConfig,
    Resilience,
    StructuredMethod,
    ToolCalling,
)
from agents.llm.runtime import LLMRuntime
from agents.toolkit import Toolkit
from agents.tools.business import BusinessData
from app.customer_tokens import MIN_SECRET_BYTES
from app.store.database import default_url, is_postgres, libpq_url
from app.store.erasure import RemovalMode
from graph.context import Context
from graph.customers import CustomerDirectory
from graph.policy.deployment import PolicySet, default_policy_set
from knowledge.articles import DEFAULT_ARTICLES_DIR
from knowledge.embedding import MiniLMEmbedder
from knowledge.store import MEMORY_MAX_ENTRIES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRIAGE_MODEL = PROJECT_ROOT / "build" / "triage-head"


class AgentModel(BaseModel):
    """One agent's own endpoint; what it leaves out comes from the default LLM settings."""

    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    structured_method: StructuredMethod | None = None
    timeout_seconds: float | None = Field(default=None, gt=0)
    tool_calling: ToolCalling | None = None


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
        description="The app store and checkpoints: `postgresql://user@host/db` for several workers; "
        "default SQLite under the data dir.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="A Chroma server (`chroma run`), e.g. http://127.0.0.1:8000, shared by several workers; "
        "default the persistent index under the data dir.",
    )
    rate_limit: str = Field(
        default="50/second;1000/minute", description="Per-key request limit (limits' notation)."
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body accepted.")
    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        description="Largest request line and headers accepted (400 beyond): a client cannot make a worker "
        "buffer an endless header.",
    )
    embedding_threads: int = Field(
        default=1, ge=1, le=64, description="onnxruntime threads per embedding forward pass."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    recovery_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often a worker finishes messages an outage left unanswered."
    )
    lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a worker's hold on a conversation, and its heartbeat, last unless renewed "
        "(every third of this): after a crash, its conversations and requests are taken over this long "
        "after its last renewal.",
    )
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
    llm_model: str | None = Field(
        default=None, description="The chat model's name; set it (with llm_base_url) to turn LLM mode on."
    )
    llm_base_url: str | None = Field(
        default=None, description="An OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp); empty for OpenAI."
    )
    llm_api_key: SecretStr | None = Field(default=None, description="The endpoint's API key.")
    llm_structured_method: StructuredMethod = Field(
        default="auto", description="json_schema, json_mode or function_calling; auto picks per endpoint."
    )
    llm_timeout_seconds: float = Field(default=20.0, gt=0, description="Deadline of one model call.")
    llm_tool_calling: ToolCalling = Field(
        default="auto",
        description="native (the model calls tools itself) or planned (a structured plan, then the answer); "
        "auto: native on OpenAI, planned elsewhere.",
    )
    llm_agents: dict[AgentName, AgentModel] = Field(
        default_factory=dict,
        description='Per-agent overrides as JSON, e.g. {"triage": {"model": "small-model"}}.',
    )
    llm_tokens_per_conversation: int = Field(default=40_000, ge=1)
    llm_tokens_per_day: int = Field(default=5_000_000, ge=1)
    llm_cost_per_day: float | None = Field(default=None, gt=0)
    llm_input_price_per_million: float = Field(default=0.0, ge=0)
    llm_output_price_per_million: float = Field(default=0.0, ge=0)
    llm_max_attempts: int = Field(default=2, ge=1, le=5)
    llm_breaker_threshold: int = Field(default=3, ge=1)
    llm_breaker_reset_seconds: float = Field(default=30.0, gt=0)
    llm_triage_confidence_threshold: float = Field(default=0.6, ge=0, le=1)
    llm_max_agent_steps: int = Field(default=4, ge=1, le=10)
    new_issue_threshold: float = Field(default=0.7, ge=0, le=1)
    retrieval_max_distance: float = Field(default=0.66, gt=0, le=2)
    top_k: int = Field(default=4, ge=1, le=20)
    loop_guard_window: int = Field(default=4, ge=2)
    loop_guard_max_switches: int = Field(default=2, ge=1)
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="`support-router retention run` removes conversations whose last activity is older "
        "than this many days; unset, the run needs --older-than-days.",
    )
    retention_mode: RemovalMode = Field(
        default="anonymise",
        description="anonymise (keep the structure and decisions for the dashboards, drop every text and "
        "personal detail) or delete (everything but the redacted audit records).",
    )
    customer_token_secret: SecretStr | None = Field(
        default=None,
        description="Shared with the embedding site's backend (32 bytes or more): when set, a widget key "
        "opens a conversation for a customer only with a customer token signed with it.",
    )
    index_memory_max_entries: int = Field(
        default=MEMORY_MAX_ENTRIES,
        ge=0,
        description="A knowledge index of up to this many entries is searched exactly in memory, and keeps "
        "answering while a Chroma server is away; a larger one (or 0) is searched by Chroma.",
    )

    @field_validator("customer_token_secret")
    @classmethod
    def _secret_long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the customer token secret needs at least {MIN_SECRET_BYTES} bytes")
        return secret

    def load_toolkit(self, embedder: MiniLMEmbedder | None = None) -> Toolkit:
        """The triage head, the embedder (`embedder` when given) and the knowledge index these name."""
        return Toolkit.load(
            self.triage_model,
            self.index_dir,
            embedder=embedder,
            threads=self.embedding_threads,
            chroma_url=self.chroma_url,
            memory_max_entries=self.index_memory_max_entries,
        )

    @property
    def index_dir(self) -> Path:
        """The persistent Chroma directory."""
        return self.index_dir_override or self.data_dir / "chroma"

    @property
    def store_url(self) -> str:
        """Where the app store lives."""
        return self.database_url or default_url(self.data_dir)

    @property
    def checkpoint_postgres_url(self) -> str | None:
        """The PostgreSQL URL the checkpointer connects to (psycopg's form), when the store is there."""
        return libpq_url(self.store_url) if is_postgres(self.store_url) else None

    def llm_config(self) -> LLMConfig | None:
        """LLM mode's configuration, or None (offline mode) when no model is set."""
        if self.llm_model is None:
            return None
        default = Endpoint(
            model=self.llm_model,
            base_url=self.llm_base_url,
            api_key=self.llm_api_key or SecretStr("not-needed"),
            structured_method=self.llm_structured_method,
            timeout_seconds=self.llm_timeout_seconds,
            tool_calling=self.llm_tool_calling,
        )
        return LLMConfig(
            default=default,
            overrides={agent: _override(default, own) for agent, own in self.llm_agents.items()},
            budgets=Budgets(
                tokens_per_conversation=self.llm_tokens_per_conversation,
                tokens_per_day=self.llm_tokens_per_day,
                cost_per_day=self.llm_cost_per_day,
                input_price_per_million=self.llm_input_price_per_million,
                output_price_per_million=self.llm_output_price_per_million,
            ),
            resilience=Resilience(
                max_attempts=self.llm_max_attempts,
                breaker_threshold=self.llm_breaker_threshold,
                breaker_reset_seconds=self.llm_breaker_reset_seconds,
            ),
            triage_confidence_threshold=self.llm_triage_confidence_threshold,
            max_agent_steps=self.llm_max_agent_steps,
        )

    def context(
        self,
        toolkit: Toolkit,
        customer_id: str | None = None,
        *,
        llm: LLMRuntime | None = None,
        business: BusinessData | None = None,
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
            llm=llm,
            business=business,
            policies=policies or default_policy_set(),
            channel=channel,
            received_at=received_at,
            new_issue_threshold=self.new_issue_threshold,
            retrieval_max_distance=self.retrieval_max_distance,
            top_k=self.top_k,
            loop_guard_window=self.loop_guard_window,
            loop_guard_max_switches=self.loop_guard_max_switches,
        )


def _override(default: Endpoint, own: AgentModel) -> Endpoint:
    """The default endpoint with what an agent sets for itself."""
    return Endpoint(
        model=own.model or default.model,
        base_url=own.base_url if own.base_url is not None else default.base_url,
        api_key=own.api_key or default.api_key,
        structured_method=own.structured_method or default.structured_method,
        timeout_seconds=own.timeout_seconds or default.timeout_seconds,
        tool_calling=own.tool_calling or default.tool_calling,
    )
