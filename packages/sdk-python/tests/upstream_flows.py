"""Main flows of the published upstream client ``ash-ai-sdk==0.0.22``, run unchanged against our
server. Runs inside a throwaway virtualenv that holds only that client (see
test_upstream_client.py); prints one JSON object: ``{step: {"ok": bool, "detail": str}}``.

Environment: ASH_URL, ASH_KEY, AGENT_PATH (a folder the server may deploy from).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
import uuid
from typing import Any, Callable

import httpx
from ash_sdk import AshClient
from ash_sdk.api.health import get_health
from ash_sdk.api.sessions import get_api_sessions_id_events, get_api_sessions_id_messages
from ash_sdk.client import AuthenticatedClient
from ash_sdk.streaming import DoneEvent, SessionStartEvent, TextDeltaEvent

URL = os.environ["ASH_URL"]
KEY = os.environ["ASH_KEY"]
AGENT_PATH = os.environ["AGENT_PATH"]
results: dict[str, dict[str, Any]] = {}
state: dict[str, Any] = {}


def step(name: str, fn: Callable[[], Any]) -> None:
    try:
        detail = fn()
        results[name] = {"ok": True, "detail": "" if detail is None else str(detail)}
    except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
        results[name] = {"ok": False, "detail": f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"}


client = AshClient(URL, token=KEY)
name = f"upstream-{uuid.uuid4().hex[:6]}"


def health() -> Any:
    h = client.health()
    assert h["status"] == "ok", h
    return h.get("uptime")


def health_generated_client() -> Any:
    h = get_health.sync(client=AuthenticatedClient(base_url=URL, token=KEY))
    assert h.status == "ok" and h.pool.max_capacity >= 1, h


def health_uptime_whole_seconds() -> Any:
    h = client.health()
    assert isinstance(h["uptime"], int), f"uptime {h['uptime']!r} is not whole seconds"


def deploy() -> Any:
    agent = client.deploy_agent(name, AGENT_PATH)
    assert agent.name == name and isinstance(agent.path, str), agent
    state["agent"] = name


def deploy_fallback() -> None:
    # Later steps need the agent even when the client's own deploy could not parse the answer.
    if "agent" not in state:
        r = httpx.post(f"{URL}/api/agents", json={"name": name, "path": AGENT_PATH}, headers={"authorization": f"Bearer {KEY}"})
        r.raise_for_status()
        state["agent"] = name


def list_get_agent() -> Any:
    assert name in [a.name for a in client.list_agents()]
    assert client.get_agent(name).name == name


def create_session() -> Any:
    s = client.create_session(
        name,
        model="claude-sonnet-4-5",
        system_prompt="You are a test agent.",
        permission_mode="bypassPermissions",
        allowed_tools=["Bash", "Read"],
        disallowed_tools=["WebFetch"],
        extra_env={"UPSTREAM": "1"},
        betas=["context-1m-2025-08-07"],
    )
    assert s.status == "active" and s.agent_name == name, s
    state["session"] = s


def create_session_permissions_by_agent() -> Any:
    s = client.create_session(name, permission_mode="permissionsByAgent")
    assert s.status == "active"


def stream() -> Any:
    sid = state["session"].id
    events = list(client.send_message_stream(sid, "hello from the upstream client"))
    assert isinstance(events[0], SessionStartEvent), events[0]
    assert isinstance(events[-1], DoneEvent) and events[-1].session_id == str(sid), events[-1]
    text = "".join(e.delta for e in events if isinstance(e, TextDeltaEvent))
    assert "hello from the upstream client" in text, text
    return text


def astream() -> Any:
    sid = state["session"].id

    async def run() -> list[Any]:
        return [e async for e in client.asend_message_stream(sid, "async hello")]

    events = asyncio.run(run())
    assert isinstance(events[-1], DoneEvent), events[-1]


def list_get_sessions() -> Any:
    sid = state["session"].id
    assert sid in [s.id for s in client.list_sessions(agent=name)]
    assert sid in [s.id for s in client.list_sessions(agent=name, status="active")]
    assert client.get_session(sid).id == sid


def pause_resume() -> Any:
    sid = state["session"].id
    assert client.pause_session(sid).status == "paused"
    assert client.resume_session(sid).status == "active"


def stop_resume() -> Any:
    sid = state["session"].id
    stopped = client.stop_session(sid)
    assert stopped.status == "stopped", f"stop answered status {stopped.status!r}"
    assert client.resume_session(sid).status == "active"


def fork() -> Any:
    sid = state["session"].id
    f = client.fork_session(sid)
    assert f.id != sid and str(f.parent_session_id) == str(sid), f
    state["fork"] = f


def list_messages() -> Any:
    low = AuthenticatedClient(base_url=URL, token=KEY)
    page = get_api_sessions_id_messages.sync(state["session"].id, client=low)
    msgs = page.messages
    assert [m.role for m in msgs][:2] == ["user", "assistant"], [m.role for m in msgs]
    assert json.loads(msgs[0].content)


def list_events() -> Any:
    low = AuthenticatedClient(base_url=URL, token=KEY)
    page = get_api_sessions_id_events.sync(state["session"].id, client=low)
    assert page.events and page.events[0].sequence >= 1


def end() -> Any:
    ended = client.end_session(state["session"].id)
    assert ended.status == "ended", ended
    assert client.end_session(state["fork"].id).status == "ended"


def auth_texts() -> Any:
    r = httpx.get(f"{URL}/api/agents")
    assert r.status_code == 401 and r.json().get("error") == "Missing Authorization header", r.text
    r = httpx.get(f"{URL}/api/agents", headers={"authorization": "Bearer ash_wrong-key-000000000000000000000000"})
    assert r.status_code == 401 and r.json().get("error") == "Invalid API key", r.text
    try:
        AshClient(URL, token="ash_wrong-key-000000000000000000000000").list_agents()
    except httpx.HTTPStatusError as e:
        assert e.response.status_code == 401
    else:
        raise AssertionError("a wrong key was accepted")


step("health", health)
step("health_generated_client", health_generated_client)
step("health_uptime_whole_seconds", health_uptime_whole_seconds)
step("deploy", deploy)
deploy_fallback()
step("list_get_agent", list_get_agent)
step("create_session", create_session)
step("create_session_permissions_by_agent", create_session_permissions_by_agent)
if "session" in state:
    step("send_message_stream", stream)
    step("asend_message_stream", astream)
    step("list_get_sessions", list_get_sessions)
    step("pause_resume", pause_resume)
    step("stop_resume", stop_resume)
    step("fork", fork)
    step("list_messages", list_messages)
    step("list_events", list_events)
    if "fork" in state:
        step("end", end)
step("auth_texts", auth_texts)
json.dump(results, sys.stdout)
