"""answer_tool_request: a permission_request and a custom_tool_use of an /api turn, answered
through the Python SDK while the turn's stream waits (real server, scripted model)."""

from __future__ import annotations

import json

import pytest

from ash_sdk import AshClient, BadRequestError


def test_allow_and_custom_result(client: AshClient, ash_server, agent_name: str) -> None:
    s = client.create_session(
        agent_name,
        ask_tools=["Bash"],
        custom_tools=[
            {
                "name": "get_weather",
                "description": "The weather of a city, from the client.",
                "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    )
    ash_server.enqueue(
        {"toolUse": {"name": "Bash", "input": {"command": "echo PY-RAN"}}},
        {"toolUse": {"name": "mcp__ash_custom__get_weather", "input": {"city": "Rome"}}},
        {"text": "Done."},
        session_id=s.id,
    )
    seen: list[str] = []
    answers: list[dict] = []
    for ev in client.send_message_stream(s.id, "Run it, then ask the weather."):
        seen.append(getattr(ev, "event", None) or type(ev).EVENT)
        if seen[-1] == "permission_request":
            with pytest.raises(BadRequestError):
                client.answer_tool_request(s.id, "toolu_nope", "allow")
            answers.append(client.answer_tool_request(s.id, ev.data["id"], "allow"))
        elif seen[-1] == "custom_tool_use":
            answers.append(
                client.answer_tool_request(
                    s.id, ev.data["id"], "result", content=[{"type": "text", "text": "PY-WARM-21"}]
                )
            )
    assert seen[-1] == "done"
    assert [a["answer"]["kind"] for a in answers] == ["permission", "custom_tool"]
    assert all(a["outcome"] == "delivered" for a in answers)
    assert seen.count("tool_answer") == 2
    sent = json.dumps([r for r in ash_server.model_requests() if r.get("sessionId") == s.id])
    assert "PY-RAN" in sent
    assert "PY-WARM-21" in sent
