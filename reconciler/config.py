"""reconciler.toml: which live provider, safety thresholds, platform-owned fields, catalogs,
and where an API provider keeps its state.

Credentials never live here: a provider's options name the environment variable that
holds them (`url_env = "RECONCILER_DATABASE_URL"`), and the value is read by the CLI and
handed in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reconciler.documents.loader import load_document
from reconciler.documents.validation import validate
from reconciler.errors import InvalidInput

CONFIG_NAME = "reconciler.toml"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LiveSection(_Section):
    """The live provider and its options (never credentials: those come from the environment)."""

    provider: str = Field(default="sqlite", description="Provider name: sqlite, postgresql, connexcs, or a plug-in.")
    options: dict[str, Any] = Field(
        default_factory=lambda: {"path": ".reconciler/live.sqlite"},
        description="Options handed to the provider, e.g. path (sqlite), url_env (postgresql), url and auth (connexcs).",
    )
    mapping: dict[str, str] = Field(
        default_factory=dict,
        description="API providers (connexcs): field path -> the API's name for it, over the built-in table.",
    )
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="API providers: for an enumerated field path, our value -> the API's spelling of it.",
    )
    account_manager_ids: dict[str, int] = Field(
        default_factory=dict,
        description="API providers: account manager name -> the platform's user id, where the API wants an id.",
    )


class StateSection(_Section):
    """Where an API provider keeps what the platform cannot: the lease lock, the audit, the
    key -> live id map and the last-applied form of each customer. The sqlite and postgresql
    providers keep it in their own database and refuse this section."""

    provider: Literal["sqlite", "postgresql"] = Field(
        default="sqlite", description="sqlite (a file beside the repository) or postgresql (shared by CI runners)."
    )
    path: str | None = Field(
        default=None, description="sqlite: the file, relative to the repository root (default .reconciler/state.sqlite)."
    )
    url_env: str | None = Field(
        default=None,
        description="postgresql: the environment variable holding the database URL (default RECONCILER_DATABASE_URL).",
    )
    allow_in_ci: bool = Field(
        default=False,
        description="sqlite: let apply run in CI although the file may die with the job (a persistent runner).",
    )


class SafetySection(_Section):
    """How much one apply may change before it needs --allow-bulk."""

    max_updates: int = Field(default=50, ge=0, description="Most customers one plan may update.")
    max_update_share: float = Field(default=0.25, ge=0, le=1, description="Largest share of the fleet one plan may update.")
    max_deactivations: int = Field(default=5, ge=0, description="Most customers one plan may deactivate.")
    max_deactivation_share: float = Field(default=0.10, ge=0, le=1, description="Largest share one plan may deactivate.")
    min_fleet_for_share: int = Field(
        default=20, ge=0, description="Below this many live customers the share rules do not apply."
    )
    on_removal: Literal["deactivate", "delete"] = Field(
        default="deactivate", description="What happens live to a customer removed from git."
    )
    lock_wait_seconds: float = Field(default=30, ge=0, description="How long apply waits for the provider's lock.")
    lock_ttl_seconds: float = Field(default=300, gt=0, description="Lease length; a crashed holder's lock expires after it.")
    apply_batch_size: int = Field(
        default=100, ge=1, description="Customers apply writes per transaction; a crash redoes at most one batch."
    )
    require_signed_plans: bool = Field(
        default=False,
        description="`apply FILE` refuses a saved plan not signed with the key in plan_key_env (HMAC-SHA256).",
    )
    plan_key_env: str = Field(
        default="RECONCILER_PLAN_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="The environment variable holding the key `plan --out` signs saved plans with.",
    )

    def violations(self, updates: int, removals: int, fleet: int) -> list[str]:
        """The thresholds that UPDATES and REMOVALS of customers in a fleet of FLEET go over, each
        as a sentence naming its setting: one rule for a plan (`plan.safety`) and for the change
        a scheduled instant makes (`validate`)."""
        violations = []
        if updates > self.max_updates:
            violations.append(f"{updates} customers to update, more than safety.max_updates = {self.max_updates}")
        removing = "delete" if self.on_removal == "delete" else "deactivate"
        if removals > self.max_deactivations:
            violations.append(
                f"{removals} customers to {removing}, more than safety.max_deactivations = {self.max_deactivations}"
            )
        if fleet >= self.min_fleet_for_share and fleet:
            if updates / fleet > self.max_update_share:
                violations.append(
                    f"{updates} of {fleet} live customers to update ({updates / fleet:.0%}), "
                    f"more than safety.max_update_share = {self.max_update_share:.0%}"
                )
            if removals / fleet > self.max_deactivation_share:
                violations.append(
                    f"{removals} of {fleet} live customers to {removing} ({removals / fleet:.0%}), "
                    f"more than safety.max_deactivation_share = {self.max_deactivation_share:.0%}"
                )
        return violations


class ScheduleSection(_Section):
    """How punctual scheduled changes must be: what counts as late, and how far back to look."""

    late_after_seconds: float = Field(
        default=300, ge=0,
        description="A scheduled change first applied longer than this after its instant is reported late.",
    )
    lookback_days: int = Field(
        default=90, ge=1, le=365, description="How far back apply runs are searched for missed windows.",
    )


class Catalogs(_Section):
    """Closed lists: when one is given, customer values must come from it."""

    resellers: list[str] | None = None
    account_managers: list[str] | None = None
    domains: list[str] | None = None
    invoice_templates: list[str] | None = None
    tags: list[str] | None = None


class OutputSection(_Section):
    format: Literal["text", "markdown", "json"] = "text"


class Settings(_Section):
    """The whole of reconciler.toml."""

    customers_dir: str = Field(default="customers.d", description="Folder of customer files.")
    plans_dir: str = Field(default="plans", description="Folder of scheduled changes (dated overlays).")
    live: LiveSection = Field(default_factory=LiveSection)
    state: StateSection | None = Field(default=None, description="An API provider's state store (default: SQLite).")
    safety: SafetySection = Field(default_factory=SafetySection)
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    owned_fields: list[str] = Field(
        default_factory=list,
        description="Field paths the platform owns (e.g. status): never diffed, never written.",
    )
    catalogs: Catalogs = Field(default_factory=Catalogs)
    output: OutputSection = Field(default_factory=OutputSection)


def load_settings(root: Path) -> Settings:
    """Read ROOT/reconciler.toml; all defaults when it does not exist.

    It is read like a customer file, so its errors name the line and field as theirs do.
    """
    path = root / CONFIG_NAME
    if not path.exists():
        return Settings()
    return read_settings(path)


def read_settings(path: Path) -> Settings:
    """The settings in the file at PATH; InvalidInput naming each line and field at fault."""
    result = validate(Settings, load_document(path))
    if isinstance(result, list):
        raise InvalidInput(result)
    return result
