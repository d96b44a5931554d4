"""Typed resources the API returns, as dataclasses.

Fields are the API's camelCase names in snake_case (``agentName`` -> ``agent_name``); timestamps
stay ISO-8601 strings as sent. Fields a newer server adds land in ``extra`` (never lost), and
``to_dict()`` gives the body exactly as received.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T", bound="Model")

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


@dataclass
class Model:
    """Base of the resource classes."""

    extra: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False)
    _raw: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False, compare=False)

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any]) -> T:
        """Builds the model from an API object; unknown keys go to ``extra``."""
        names = {f.name for f in fields(cls) if f.name not in ("extra", "_raw")}
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for k, v in d.items():
            s = _snake(k)
            if s in names:
                known[s] = v
            else:
                extra[k] = v
        for n in names - known.keys():
            known[n] = None
        return cls(**known, extra=extra, _raw=dict(d))

    def to_dict(self) -> dict[str, Any]:
        """The API object as received."""
        return dict(self._raw)

    def __getitem__(self, key: str) -> Any:
        """``agent["name"]``: dict-style access by the API's (camelCase) key."""
        return self._raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._raw.get(key, default)


@dataclass
class Agent(Model):
    id: str
    name: str
    version: int
    tenant_id: str | None = None
    description: str | None = None
    env: dict[str, str] | None = None
    config: dict[str, Any] | None = None
    file_count: int | None = None
    size_bytes: int | None = None
    path: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass
class Session(Model):
    id: str
    agent_name: str
    status: str
    tenant_id: str | None = None
    agent_version: int | None = None
    sandbox_id: str | None = None
    runner_id: str | None = None
    parent_session_id: str | None = None
    model: str | None = None
    config: dict[str, Any] | None = None
    budget_usd: float | None = None
    active_turn_id: str | None = None
    created_at: str | None = None
    last_active_at: str | None = None
    ended_at: str | None = None


@dataclass
class Message(Model):
    id: str
    session_id: str
    role: str
    content: str
    sequence: int
    type: str | None = None
    text: str | None = None
    turn_id: str | None = None
    created_at: str | None = None

    def content_json(self) -> Any:
        """``content`` (the SDK message as JSON text) decoded."""
        return json.loads(self.content)


@dataclass
class SessionEvent(Model):
    id: str
    session_id: str
    type: str
    data: str
    sequence: int
    turn_id: str | None = None
    created_at: str | None = None

    def data_json(self) -> Any:
        """``data`` (JSON text) decoded."""
        return json.loads(self.data) if self.data else None


@dataclass
class Credential(Model):
    id: str
    type: str
    label: str | None = None
    active: bool | None = None
    created_at: str | None = None
    updated_at: str | None = None
    last_used_at: str | None = None


@dataclass
class ApiKey(Model):
    id: str
    tenant_id: str | None = None
    key_prefix: str | None = None
    label: str | None = None
    created_at: str | None = None
    last_used_at: str | None = None


@dataclass
class CreatedApiKey(Model):
    """A new key: ``key`` is shown only here."""

    id: str
    key: str
    tenant_id: str | None = None


@dataclass
class Attachment(Model):
    id: str
    session_id: str
    filename: str
    mime_type: str
    size: int
    message_id: str | None = None
    sha256: str | None = None
    workspace_path: str | None = None
    created_at: str | None = None


@dataclass
class DownloadedAttachment:
    """An attachment's bytes with the name and media type the server sent."""

    content: bytes
    filename: str | None
    mime_type: str


@dataclass
class QueueItem(Model):
    id: str
    agent_name: str
    prompt: str
    status: str
    session_id: str | None = None
    options: dict[str, Any] | None = None
    priority: int | None = None
    retry_count: int | None = None
    max_retries: int | None = None
    run_at: str | None = None
    error: str | None = None
    result: dict[str, Any] | None = None
    claimed_by: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None


@dataclass
class UsageRecord(Model):
    id: str
    kind: str | None = None
    session_id: str | None = None
    agent_name: str | None = None
    turn_id: str | None = None
    message_id: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_tokens: int | None = None
    cache_read_tokens: int | None = None
    tool_calls: int | None = None
    egress_allowed: int | None = None
    egress_denied: int | None = None
    egress_bytes_up: int | None = None
    egress_bytes_down: int | None = None
    compute_seconds: float | None = None
    cost_usd: float | None = None
    sdk_cost_usd: float | None = None
    price_version: str | None = None
    created_at: str | None = None


@dataclass
class UsageTotals(Model):
    """Usage totals over a set of ledger records (token counts, calls, turns, compute seconds, USD,
    sandbox network connections allowed/denied and bytes up/down)."""

    total_input_tokens: int | None = None
    total_output_tokens: int | None = None
    total_cache_creation_tokens: int | None = None
    total_cache_read_tokens: int | None = None
    total_tool_calls: int | None = None
    total_messages: int | None = None
    total_model_calls: int | None = None
    total_turns: int | None = None
    total_compute_seconds: float | None = None
    total_cost_usd: float | None = None
    total_sdk_cost_usd: float | None = None
    fallback_priced_calls: int | None = None
    total_egress_allowed: int | None = None
    total_egress_denied: int | None = None
    total_egress_bytes_up: int | None = None
    total_egress_bytes_down: int | None = None


@dataclass
class AgentVersion(Model):
    """A prompt version of an agent; the active one gives new sessions their system prompt."""

    id: str
    agent_name: str
    version_number: int
    name: str
    system_prompt: str | None = None
    release_notes: str | None = None
    is_active: bool = False
    knowledge_files: list[str] = field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None


@dataclass
class ActivatedVersion(Model):
    """Answer of ``activate_agent_version``: ``activated`` is always True."""

    activated: bool
    version_number: int


@dataclass
class ExecResult(Model):
    """What a command run with ``exec`` did.

    ``exit_code`` is 124 after a timeout (then ``timed_out`` is True) and 128+n after signal n;
    ``truncated`` says stdout or stderr was cut at the server's limit (1 MiB each);
    ``duration_ms`` is the command's wall time in milliseconds.
    """

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool | None = None
    truncated: bool | None = None
    duration_ms: int | None = None


@dataclass
class LogEntry(Model):
    """One line of a sandbox's output ring: ``level`` is ``stdout``, ``stderr`` or ``system``;
    ``index`` increases (pass the last one seen as ``after``); ``ts`` is ISO-8601."""

    index: int
    level: str
    text: str
    ts: str | None = None


@dataclass
class SessionLogs(Model):
    """Answer of ``get_session_logs``: the lines (oldest first) and their ``source`` (``sandbox``)."""

    logs: list[LogEntry]
    source: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionLogs:
        out = super().from_dict(d)
        out.logs = [LogEntry.from_dict(x) for x in d.get("logs") or []]
        return out


@dataclass
class Analytics(Model):
    """Answer of ``get_analytics``: the tenant's figures in a time range.

    ``agents`` is ``{"total"}``, ``sessions`` ``{"total", "byStatus": {status: count}}``,
    ``usage`` the :class:`UsageTotals`, ``evals`` ``{"totalRuns", "byStatus"}`` (always zero: Ash has no evals).
    """

    agents: dict[str, Any]
    sessions: dict[str, Any]
    usage: UsageTotals
    evals: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Analytics:
        out = super().from_dict(d)
        out.usage = UsageTotals.from_dict(d.get("usage") or {})
        return out

    @property
    def agents_total(self) -> int:
        return int(self.agents.get("total", 0))

    @property
    def sessions_total(self) -> int:
        return int(self.sessions.get("total", 0))

    @property
    def sessions_by_status(self) -> dict[str, int]:
        return dict(self.sessions.get("byStatus") or {})


@dataclass
class SessionList:
    """One page of sessions with the ``total`` matching the filter and ``has_more``."""

    sessions: list[Session]
    total: int
    has_more: bool


@dataclass
class Page:
    """One page of a cursor-paginated list, with ``has_more``."""

    items: list[Any]
    has_more: bool


__all__ = [
    "ActivatedVersion",
    "Agent",
    "AgentVersion",
    "Analytics",
    "ApiKey",
    "Attachment",
    "CreatedApiKey",
    "Credential",
    "DownloadedAttachment",
    "ExecResult",
    "LogEntry",
    "Message",
    "Model",
    "Page",
    "QueueItem",
    "Session",
    "SessionEvent",
    "SessionList",
    "SessionLogs",
    "UsageRecord",
    "UsageTotals",
]
