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
    compute_seconds: float | None = None
    cost_usd: float | None = None
    sdk_cost_usd: float | None = None
    price_version: str | None = None
    created_at: str | None = None


@dataclass
class Page:
    """One page of a cursor-paginated list, with ``has_more``."""

    items: list[Any]
    has_more: bool


__all__ = [
    "Agent",
    "ApiKey",
    "Attachment",
    "CreatedApiKey",
    "Credential",
    "DownloadedAttachment",
    "Message",
    "Model",
    "Page",
    "QueueItem",
    "Session",
    "SessionEvent",
    "UsageRecord",
]
