"""Sync and async streams against a real server: typed events, in order, ending in DoneEvent."""

from __future__ import annotations

import pytest

from ash_sdk import AshClient, AsyncAshClient
from ash_sdk.streaming import (
    DoneEvent,
    ErrorEvent,
    MessageEvent,
    SandboxReadyEvent,
    SandboxStartingEvent,
    SessionStartEvent,
    StreamEvent,
    TextDeltaEvent,
    ThinkingDeltaEvent,
    ToolResultEvent,
    ToolUseEvent,
    TurnCompleteEvent,
    iter_sse_events,
    parse_event,
)


def test_sync_stream_yields_typed_events_ending_in_done(client: AshClient, ash_server, agent_name: str) -> None:
    session = client.create_session(agent_name)
    ash_server.enqueue(
        {"text": "Let me look.", "thinking": "I should list the files.", "toolUse": {"name": "Bash", "input": {"command": "echo from-the-sandbox"}}},
        {"text": "All done here.", "thinking": "Wrapping up."},
        session_id=session.id,
    )
    events = list(client.send_message_stream(session.id, "run a command"))
    assert isinstance(events[0], SessionStartEvent)
    assert events[0].session_id == session.id and events[0].turn_id
    assert isinstance(events[-1], DoneEvent)
    assert events[-1].outcome == "completed" and events[-1].turn_id == events[0].turn_id
    tool = next(e for e in events if isinstance(e, ToolUseEvent))
    assert tool.name == "Bash" and tool.input == {"command": "echo from-the-sandbox"}
    result = next(e for e in events if isinstance(e, ToolResultEvent))
    assert result.tool_use_id == tool.id and "from-the-sandbox" in result.content and result.is_error is False
    assert any(isinstance(e, ThinkingDeltaEvent) for e in events)
    assert "All done here." in "".join(e.delta for e in events if isinstance(e, TextDeltaEvent))
    complete = next(e for e in events if isinstance(e, TurnCompleteEvent))
    assert complete.result == "All done here." and complete.is_error is False and complete.num_turns >= 1
    assert any(isinstance(e, MessageEvent) and e.data.get("type") == "assistant" for e in events)
    ids = [e.event_id for e in events]
    assert all(isinstance(i, int) for i in ids) and ids == sorted(set(ids))  # ordered, no duplicates


@pytest.mark.anyio
async def test_async_stream_yields_typed_events_ending_in_done(ash_server, agent_name: str) -> None:
    async with AsyncAshClient(ash_server.url, api_key=ash_server.api_key) as ash:
        session = await ash.create_session(agent_name)
        ash_server.enqueue({"text": "Async answer."}, session_id=session.id)
        events = [ev async for ev in ash.asend_message_stream(session.id, "hello async")]
        assert isinstance(events[0], SessionStartEvent)
        assert isinstance(events[-1], DoneEvent) and events[-1].outcome == "completed"
        assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == "Async answer."
        # The upstream name works on the async client too.
        ash_server.enqueue({"text": "Second."}, session_id=session.id)
        second = [ev async for ev in ash.send_message_stream(session.id, "again")]
        assert isinstance(second[-1], DoneEvent)
        assert second[0].event_id > events[-1].event_id
        # History after the turns, through the async cursor iterator.
        messages = [m async for m in ash.aiter_messages(session.id, page_size=1)]
        assert [m.sequence for m in messages] == sorted(m.sequence for m in messages)
        assert messages[0].role == "user" and "hello async" in messages[0].text
        assert any(m.text == "Second." for m in messages)


def test_stream_session_replays_history_after_a_cursor(client: AshClient, ash_server, agent_name: str) -> None:
    session = client.create_session(agent_name)
    ash_server.enqueue({"text": "Replayed."}, session_id=session.id)
    live = list(client.send_message_stream(session.id, "hi"))
    start = live[0].event_id
    replay = list(client.stream_session(session.id, after=start))
    assert [e.event_id for e in replay] == [e.event_id for e in live[1:]]
    assert isinstance(replay[-1], DoneEvent)


def test_a_failed_turn_streams_a_typed_error_event_then_done(client: AshClient, ash_server, agent_name: str) -> None:
    session = client.create_session(agent_name)
    ash_server.enqueue({"error": {"status": 529, "type": "overloaded_error", "message": "scripted overload"}}, session_id=session.id)
    events = list(client.send_message_stream(session.id, "fail please"))
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert errors and errors[0].code == "model_error", errors
    assert isinstance(events[-1], DoneEvent) and events[-1].outcome == "error"
    # The session stays usable.
    ash_server.enqueue({"text": "Recovered."}, session_id=session.id)
    again = list(client.send_message_stream(session.id, "again"))
    assert isinstance(again[-1], DoneEvent) and again[-1].outcome == "completed"


def test_upstream_stream_helpers_parse_a_response() -> None:
    import httpx

    from ash_sdk.streaming import parse_sse_stream

    body = b"id: 1\nevent: session_start\ndata: {\"sessionId\": \"s\", \"version\": \"1\"}\n\nevent: done\ndata: {\"sessionId\": \"s\"}\n\n"
    evs = list(parse_sse_stream(httpx.Response(200, content=body)))
    assert evs[0] == SessionStartEvent("s", "1", None, event_id=1, raw={"sessionId": "s", "version": "1"})
    assert isinstance(evs[1], DoneEvent) and evs[1].session_id == "s"


def test_unknown_event_names_come_as_the_generic_event() -> None:
    lines = ["id: 7", "event: brand_new", 'data: {"x": 1}', "", ": heartbeat", "event: text_delta", 'data: {"delta":"a"}', ""]
    evs = list(iter_sse_events(iter(lines)))
    assert evs[0] == StreamEvent("brand_new", {"x": 1}, event_id=7, raw={"x": 1})
    assert evs[1] == TextDeltaEvent("a", event_id=None, raw={"delta": "a"})
    assert isinstance(parse_event("done", {"sessionId": "s", "turnId": "t", "outcome": "completed"}), DoneEvent)


def test_sandbox_start_events_are_typed() -> None:
    assert parse_event("sandbox_starting", {"sessionId": "s"}, 2) == SandboxStartingEvent("s", event_id=2, raw={"sessionId": "s"})
    ready = parse_event("sandbox_ready", {"sessionId": "s", "waitMs": 812}, 3)
    assert isinstance(ready, SandboxReadyEvent) and ready.session_id == "s" and ready.wait_ms == 812
