"""Typed events of a turn's Server-Sent Events stream, and the SSE decoder.

The class names and their leading fields are the upstream client's (``TextDeltaEvent.delta``,
``DoneEvent.session_id``...), so ``from ash_sdk.streaming import TextDeltaEvent`` keeps working.
Every event also has ``event_id`` (the SSE ``id:``: the per-session event sequence, used to
resume a stream) and ``raw`` (the event's data as sent). Event names this version does not know
come as :class:`StreamEvent` (``event`` + ``data``), so nothing is dropped.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union


@dataclass
class StreamEvent:
    """An event of a type without its own class (generic fallback)."""

    event: str
    data: Any
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


@dataclass
class SessionStartEvent:
    """``session_start``: always the first event of a turn."""

    EVENT: ClassVar[str] = "session_start"
    session_id: str
    version: str | None = None
    turn_id: str | None = None
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


@dataclass
class SandboxStartingEvent:
    """``sandbox_starting``: the session had no live sandbox; one is starting (after ``session_start``)."""

    EVENT: ClassVar[str] = "sandbox_starting"
    session_id: str
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


@dataclass
class SandboxReadyEvent:
    """``sandbox_ready``: the sandbox announced by ``sandbox_starting`` is up; ``wait_ms``: how long the turn waited."""

    EVENT: ClassVar[str] = "sandbox_ready"
    session_id: str
    wait_ms: float | None = None
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


@dataclass
class TextDeltaEvent:
    """``text_delta``: a chunk of the answer's text."""

    EVENT: ClassVar[str] = "text_delta"
    delta: str
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


@dataclass
class ThinkingDeltaEvent:
    """``thinking_delta``: a chunk of the model's thinking."""

    EVENT: ClassVar[str] = "thinking_delta"
    delta: str
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


@dataclass
class ToolUseEvent:
    """``tool_use``: the model calls a tool."""

    EVENT: ClassVar[str] = "tool_use"
    id: str
    name: str
    input: Any
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


@dataclass
class ToolResultEvent:
    """``tool_result``: a tool's output (text) for ``tool_use_id``."""

    EVENT: ClassVar[str] = "tool_result"
    tool_use_id: str
    content: Any
    is_error: bool = False
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


@dataclass
class MessageEvent:
    """``message``: an Agent SDK message, untranslated (``assistant``, ``user``, ``result``...)."""

    EVENT: ClassVar[str] = "message"
    data: dict[str, Any]
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


@dataclass
class TurnCompleteEvent:
    """``turn_complete``: the SDK's result of the turn (final text, cost, usage)."""

    EVENT: ClassVar[str] = "turn_complete"
    num_turns: int | None = None
    result: str | None = None
    is_error: bool = False
    subtype: str | None = None
    duration_ms: float | None = None
    total_cost_usd: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    structured_output: Any = None
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


@dataclass
class ErrorEvent:
    """``error``: the turn failed; ``code`` is stable (docs/errors.md). ``done`` follows."""

    EVENT: ClassVar[str] = "error"
    error: str
    code: str | None = None
    limit: str | None = None
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


@dataclass
class DoneEvent:
    """``done``: always the last event of a turn. ``outcome``: completed, error or interrupted."""

    EVENT: ClassVar[str] = "done"
    session_id: str
    turn_id: str | None = None
    outcome: str | None = None
    event_id: int | None = field(default=None, kw_only=True)
    raw: Any = field(default=None, kw_only=True, repr=False)


AshEvent = Union[
    SessionStartEvent,
    SandboxStartingEvent,
    SandboxReadyEvent,
    TextDeltaEvent,
    ThinkingDeltaEvent,
    ToolUseEvent,
    ToolResultEvent,
    MessageEvent,
    TurnCompleteEvent,
    ErrorEvent,
    DoneEvent,
    StreamEvent,
]
"""Any event a stream yields."""


def _d(data: Any) -> dict[str, Any]:
    return data if isinstance(data, dict) else {}


def parse_event(event: str, data: Any, event_id: int | None = None) -> AshEvent:
    """Builds the typed event for an SSE event name and its decoded JSON data."""
    d = _d(data)
    kw: dict[str, Any] = {"event_id": event_id, "raw": data}
    if event == "session_start":
        return SessionStartEvent(str(d.get("sessionId", "")), d.get("version"), d.get("turnId"), **kw)
    if event == "sandbox_starting":
        return SandboxStartingEvent(str(d.get("sessionId", "")), **kw)
    if event == "sandbox_ready":
        return SandboxReadyEvent(str(d.get("sessionId", "")), d.get("waitMs"), **kw)
    if event == "text_delta":
        return TextDeltaEvent(str(d.get("delta", "")), **kw)
    if event == "thinking_delta":
        return ThinkingDeltaEvent(str(d.get("delta", "")), **kw)
    if event == "tool_use":
        return ToolUseEvent(str(d.get("id", "")), str(d.get("name", "")), d.get("input"), **kw)
    if event == "tool_result":
        return ToolResultEvent(str(d.get("tool_use_id", "")), d.get("content"), bool(d.get("is_error", False)), **kw)
    if event == "message":
        return MessageEvent(d, **kw)
    if event == "turn_complete":
        return TurnCompleteEvent(
            num_turns=d.get("numTurns"),
            result=d.get("result"),
            is_error=bool(d.get("isError", False)),
            subtype=d.get("subtype"),
            duration_ms=d.get("durationMs"),
            total_cost_usd=d.get("totalCostUsd"),
            usage=_d(d.get("usage")),
            structured_output=d.get("structuredOutput"),
            **kw,
        )
    if event == "error":
        return ErrorEvent(str(d.get("error", "Unknown error")), d.get("code"), d.get("limit"), **kw)
    if event == "done":
        return DoneEvent(str(d.get("sessionId", "")), d.get("turnId"), d.get("outcome"), **kw)
    return StreamEvent(event, data, **kw)


class SseDecoder:
    """Incremental SSE decoder (WHATWG rules): feed lines, get ``(event, data, id)`` frames.

    Comment lines (heartbeats) are ignored; multi-line ``data:`` is joined with newlines; an
    event without ``event:`` is named ``message``.
    """

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> tuple[str, str, str | None] | None:
        """Feeds one line (without its line break). Returns a frame at a blank line."""
        if line == "":
            if not self._data and not self._event:
                self._id = None
                return None
            frame = (self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data, self._id = "", [], None
            return frame
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None


def _to_event(frame: tuple[str, str, str | None]) -> AshEvent | None:
    event, raw, ident = frame
    try:
        data = json.loads(raw)
    except ValueError:
        return None  # frames whose data is not JSON are skipped
    event_id = int(ident) if ident is not None and ident.isdigit() else None
    return parse_event(event, data, event_id)


def iter_sse_events(lines: Iterator[str]) -> Iterator[AshEvent]:
    """Typed events of an SSE body given as lines (e.g. ``httpx.Response.iter_lines()``)."""
    decoder = SseDecoder()
    for line in lines:
        frame = decoder.feed(line)
        if frame is not None:
            ev = _to_event(frame)
            if ev is not None:
                yield ev


async def aiter_sse_events(lines: AsyncIterator[str]) -> AsyncIterator[AshEvent]:
    """Async form of :func:`iter_sse_events` (e.g. ``httpx.Response.aiter_lines()``)."""
    decoder = SseDecoder()
    async for line in lines:
        frame = decoder.feed(line)
        if frame is not None:
            ev = _to_event(frame)
            if ev is not None:
                yield ev


def parse_sse_stream(response: Any) -> Iterator[AshEvent]:
    """Typed events of a streaming ``httpx.Response`` (the upstream client's helper name)."""
    return iter_sse_events(response.iter_lines())


def parse_sse_stream_async(response: Any) -> AsyncIterator[AshEvent]:
    """Async form of :func:`parse_sse_stream` (the upstream client's helper name)."""
    return aiter_sse_events(response.aiter_lines())


def event_name(ev: AshEvent) -> str:
    """The SSE event name of a typed event (``text_delta``, ``done``...)."""
    return ev.event if isinstance(ev, StreamEvent) else type(ev).EVENT


__all__ = [
    "AshEvent",
    "DoneEvent",
    "ErrorEvent",
    "MessageEvent",
    "SandboxReadyEvent",
    "SandboxStartingEvent",
    "SessionStartEvent",
    "SseDecoder",
    "StreamEvent",
    "TextDeltaEvent",
    "ThinkingDeltaEvent",
    "ToolResultEvent",
    "ToolUseEvent",
    "TurnCompleteEvent",
    "aiter_sse_events",
    "event_name",
    "iter_sse_events",
    "parse_event",
    "parse_sse_stream",
    "parse_sse_stream_async",
]
