"""The Managed Agents API (``/v1``) through the official Python ``anthropic`` package, unchanged:
``Anthropic(base_url=…)`` (sync) and ``AsyncAnthropic`` (async) against a real Ash server
(real sandboxes, scripted model). The Python SDK authenticates with ``x-api-key``."""

from __future__ import annotations

import anthropic
import pytest
from anthropic import Anthropic, AsyncAnthropic

CORE = ["session.status_running", "agent.tool_use", "agent.tool_result", "agent.message", "session.status_idle"]


def _core(types: list[str]) -> list[str]:
    return [t for t in types if t in CORE]


def _setup(client: Anthropic) -> tuple[str, str]:
    env = client.beta.environments.create(name="py-env")
    agent = client.beta.agents.create(
        name="py worker",
        model="claude-sonnet-4-5",
        system="You are the Python acceptance worker.",
        tools=[{"type": "agent_toolset_20260401"}],
    )
    return agent.id, env.id


def test_sync_client_runs_a_bash_turn(ash_server) -> None:
    client = Anthropic(base_url=ash_server.url, api_key=ash_server.api_key, max_retries=0)
    agent_id, env_id = _setup(client)
    session = client.beta.sessions.create(agent=agent_id, environment_id=env_id)
    assert session.status == "idle"
    ash_server.enqueue(
        {"toolUse": {"name": "Bash", "input": {"command": "echo PY-MANAGED-OK"}}},
        {"text": "Python saw PY-MANAGED-OK."},
        session_id=session.id,
    )
    client.beta.sessions.events.send(
        session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": "Run echo."}]}]
    )
    seen = []
    stream = client.beta.sessions.events.stream(session.id)
    try:
        for ev in stream:
            seen.append(ev)
            if ev.type == "session.status_idle":
                break
    finally:
        stream.close()
    assert _core([e.type for e in seen]) == CORE
    use = next(e for e in seen if e.type == "agent.tool_use")
    assert use.name == "Bash" and use.input == {"command": "echo PY-MANAGED-OK"}
    result = next(e for e in seen if e.type == "agent.tool_result")
    assert "PY-MANAGED-OK" in str(result.content)
    assert seen[-1].stop_reason.type == "end_turn"
    listed = list(client.beta.sessions.events.list(session.id, limit=2))
    start = [e.id for e in listed].index(seen[0].id)
    assert [(e.type, e.id) for e in listed[start:]] == [(e.type, e.id) for e in seen]

    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.retrieve("00000000-0000-4000-8000-000000000000")
    with pytest.raises(anthropic.AuthenticationError):
        Anthropic(base_url=ash_server.url, api_key="ash_wrong", max_retries=0).beta.agents.list()


@pytest.mark.anyio
async def test_async_client_runs_the_same_turn(ash_server) -> None:
    sync = Anthropic(base_url=ash_server.url, api_key=ash_server.api_key, max_retries=0)
    agent_id, env_id = _setup(sync)
    async with AsyncAnthropic(base_url=ash_server.url, api_key=ash_server.api_key, max_retries=0) as client:
        session = await client.beta.sessions.create(agent=agent_id, environment_id=env_id)
        ash_server.enqueue(
            {"toolUse": {"name": "Bash", "input": {"command": "echo ASYNC-OK"}}},
            {"text": "Async saw ASYNC-OK."},
            session_id=session.id,
        )
        await client.beta.sessions.events.send(
            session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": "Run echo."}]}]
        )
        seen = []
        stream = await client.beta.sessions.events.stream(session.id)
        try:
            async for ev in stream:
                seen.append(ev)
                if ev.type == "session.status_idle":
                    break
        finally:
            await stream.close()
        assert _core([e.type for e in seen]) == CORE
        assert seen[-1].stop_reason.type == "end_turn"
        listed = [e async for e in client.beta.sessions.events.list(session.id)]
        assert [e.id for e in listed][-len(seen) :] == [e.id for e in seen]


def _until(stream, stop_reason: str) -> list:
    """Reads the stream until a ``session.status_idle`` with that stop reason (included)."""
    seen = []
    for ev in stream:
        seen.append(ev)
        if ev.type == "session.status_idle" and ev.stop_reason.type == stop_reason:
            return seen
    raise AssertionError(f"the stream ended; got {[e.type for e in seen]}")


def test_custom_tool_round_trip(ash_server) -> None:
    client = Anthropic(base_url=ash_server.url, api_key=ash_server.api_key, max_retries=0)
    env = client.beta.environments.create(name="py-custom")
    agent = client.beta.agents.create(
        name="py custom",
        model="claude-sonnet-4-5",
        tools=[
            {
                "type": "custom",
                "name": "lookup",
                "description": "Looks a key up on the client.",
                "input_schema": {"type": "object", "properties": {"key": {"type": "string"}}},
            }
        ],
    )
    session = client.beta.sessions.create(agent=agent.id, environment_id=env.id)
    ash_server.enqueue(
        {"toolUse": {"name": "mcp__ash_custom__lookup", "input": {"key": "k1"}}},
        {"text": "The value is PY-VALUE."},
        session_id=session.id,
    )
    stream = client.beta.sessions.events.stream(session.id)
    try:
        client.beta.sessions.events.send(
            session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": "Look k1 up."}]}]
        )
        asked = _until(stream, "requires_action")
        use = next(e for e in asked if e.type == "agent.custom_tool_use")
        assert use.name == "lookup" and use.input == {"key": "k1"}
        assert asked[-1].stop_reason.event_ids == [use.id]
        with pytest.raises(anthropic.BadRequestError):
            client.beta.sessions.events.send(
                session.id, events=[{"type": "user.custom_tool_result", "custom_tool_use_id": "toolu_nope"}]
            )
        client.beta.sessions.events.send(
            session.id,
            events=[
                {
                    "type": "user.custom_tool_result",
                    "custom_tool_use_id": use.id,
                    "content": [{"type": "text", "text": "PY-VALUE"}],
                }
            ],
        )
        done = _until(stream, "end_turn")
    finally:
        stream.close()
    types = [e.type for e in done]
    assert "user.custom_tool_result" in types and "agent.message" in types
    # The model received the client's result as the tool's result.
    seen = [
        b
        for r in ash_server.model_requests()
        if r.get("sessionId") == session.id
        for m in r.get("messages", [])
        if isinstance(m.get("content"), list)
        for b in m["content"]
        if b.get("type") == "tool_result" and b.get("tool_use_id") == use.id
    ]
    assert seen and "PY-VALUE" in str(seen[0])
