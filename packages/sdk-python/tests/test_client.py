"""Every SDK method against a real server process (scripted model)."""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path

import httpx
import pytest

from ash_sdk import (
    Agent,
    AshClient,
    AsyncAshClient,
    Attachment,
    Credential,
    Message,
    QueueItem,
    Session,
    SessionEvent,
    UsageRecord,
    UsageTotals,
)
from ash_sdk.errors import (
    AgentNotFoundError,
    AshApiError,
    AshConnectionError,
    AshLocalError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GoneError,
    NotFoundError,
    RateLimitError,
    SessionBusyError,
    SessionEndedError,
    SessionNotFoundError,
    ValidationError,
    api_error_from_response,
)
from ash_sdk.streaming import DoneEvent, SessionStartEvent


def test_health_and_agents(client: AshClient, tmp_path: Path) -> None:
    health = client.health()
    assert health["status"] == "ok" and isinstance(health["version"], str)

    folder = tmp_path / "agent"
    (folder / ".claude" / "skills" / "greet").mkdir(parents=True)
    (folder / "CLAUDE.md").write_text("# py agent\nBe brief.\n")
    (folder / ".claude" / "skills" / "greet" / "SKILL.md").write_text("---\nname: greet\n---\nSay hi.\n")
    (folder / ".env").write_text("SECRET=1\n")
    (folder / "node_modules").mkdir()
    (folder / "node_modules" / "x.js").write_text("x")
    (folder / "build.log").write_text("noise")
    (folder / ".ashignore").write_text("*.log\n")
    name = f"py-agent-{uuid.uuid4().hex[:6]}"
    agent = client.deploy_agent(name, folder, env={"GREETING": "hi"}, description="from python")
    assert isinstance(agent, Agent) and agent.name == name and agent.version == 1
    assert agent.env == {"GREETING": "***"} and agent.description == "from python"
    files = sorted(f["path"] for f in client.list_agent_files(name)["files"])
    assert files == [".ashignore", ".claude/skills/greet/SKILL.md", "CLAUDE.md"]
    assert client.deploy_agent(name, folder).version == 1  # an unchanged redeploy keeps the version
    (folder / "CLAUDE.md").write_text("# py agent\nBe brief.\n")
    (folder / "extra.md").write_text("more")
    assert client.deploy_agent(name, folder).version == 2  # a changed redeploy bumps it
    assert name in [a.name for a in client.list_agents()]
    assert client.get_agent(name).id == agent.id
    assert client.update_agent(name, description="changed", config={"model": "claude-x"}).description == "changed"
    assert client.get_agent(name).config["model"] == "claude-x"

    assert client.get_agent_file(name, "CLAUDE.md")["content"].startswith("# py agent")
    assert client.download_agent_file(name, "CLAUDE.md") == b"# py agent\nBe brief.\n"
    changed = client.upload_agent_files(name, {"notes/a b.txt": b"\x00\x01 bytes"})
    assert changed["files"][0]["written"] is True
    assert client.download_agent_file(name, "notes/a b.txt") == b"\x00\x01 bytes"
    client.delete_agent_file(name, "notes/a b.txt")
    with pytest.raises(NotFoundError):
        client.download_agent_file(name, "notes/a b.txt")

    client.delete_agent(name)
    with pytest.raises(AgentNotFoundError) as err:
        client.get_agent(name)
    assert err.value.code == "agent_not_found" and err.value.status_code == 404
    with pytest.raises(AshLocalError) as local:
        client.download_agent_file(name, "../etc/passwd")
    assert local.value.code == "invalid_path"


def test_deploy_by_server_path(client: AshClient, hello_dir: str) -> None:
    name = f"py-path-{uuid.uuid4().hex[:6]}"
    agent = client.deploy_agent(name, hello_dir, server_path=True)
    assert agent.name == name and agent.file_count >= 1


def test_sessions_lifecycle_and_config(client: AshClient, ash_server, agent_name: str) -> None:
    session = client.create_session(
        agent_name,
        model="claude-sonnet-4-5",
        system_prompt="You are terse.",
        permission_mode="bypassPermissions",
        allowed_tools=["Bash", "Read"],
        disallowed_tools=["WebFetch"],
        mcp_servers={"echo": {"command": "node", "args": ["-e", "0"]}},
        betas=["context-1m-2025-08-07"],
        subagents={"reviewer": {"description": "Reviews", "prompt": "Review the work."}},
        initial_agent="reviewer",
        extra_env={"PY_SDK": "1"},
        budget_usd=5,
    )
    assert isinstance(session, Session) and session.status == "active" and session.agent_name == agent_name
    assert session.config["allowedTools"] == ["Bash", "Read"] and session.config["initialAgent"] == "reviewer"
    assert session.model == "claude-sonnet-4-5" and session.budget_usd == 5

    updated = client.update_session_config(session.id, model="claude-haiku-4-5", allowed_tools=None, initial_agent=None)
    assert updated.config.get("allowedTools") is None and updated.config["model"] == "claude-haiku-4-5"

    assert client.get_session(session.id).id == session.id
    assert session.id in [s.id for s in client.list_sessions(agent_name)]
    assert session.id in [s.id for s in client.list_sessions(agent=agent_name, status="active", limit=10)]
    assert session.id in [s.id for s in client.iter_sessions(agent_name, page_size=1)]

    assert client.pause_session(session.id).status == "paused"
    assert client.resume_session(session.id).status == "active"
    stopped = client.stop_session(session.id)
    assert stopped.status in ("stopped", "paused")
    assert client.resume_session(session.id).status == "active"

    ash_server.enqueue({"text": "Before the fork."}, session_id=session.id)
    events = list(client.send_message_stream(session.id, "remember this"))
    assert isinstance(events[-1], DoneEvent)
    fork = client.fork_session(session.id)
    assert fork.id != session.id and fork.parent_session_id == session.id
    assert [m.text for m in client.list_messages(fork.id)] == [m.text for m in client.list_messages(session.id)]

    assert client.interrupt_session(session.id) is False  # no turn running
    ended = client.end_session(session.id)
    assert ended.status == "ended"
    with pytest.raises(SessionEndedError) as gone:
        list(client.send_message_stream(session.id, "hello?"))
    assert isinstance(gone.value, GoneError) and gone.value.code == "session_ended"
    with pytest.raises(SessionNotFoundError):
        client.get_session(str(uuid.uuid4()))


def test_interrupt_a_running_turn(client: AshClient, ash_server, agent_name: str) -> None:
    session = client.create_session(agent_name)
    ash_server.enqueue({"slow": {"deltas": 50, "intervalMs": 200}}, session_id=session.id)
    stream = client.send_message_stream(session.id, "long")
    assert isinstance(next(stream), SessionStartEvent)
    with pytest.raises(SessionBusyError) as busy:
        list(client.send_message_stream(session.id, "again"))
    assert busy.value.code == "session_busy" and isinstance(busy.value, ConflictError)
    assert busy.value.retry_after is not None
    assert client.interrupt_session(session.id) is True
    rest = list(stream)
    assert isinstance(rest[-1], DoneEvent) and rest[-1].outcome == "interrupted"


def test_messages_and_events_with_cursors(client: AshClient, ash_server, agent_name: str) -> None:
    session = client.create_session(agent_name)
    for i in range(3):
        ash_server.enqueue({"text": f"answer {i}"}, session_id=session.id)
        list(client.send_message_stream(session.id, f"question {i}"))
    messages = list(client.iter_messages(session.id, page_size=2))
    assert all(isinstance(m, Message) for m in messages)
    seqs = [m.sequence for m in messages]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert [m.text for m in messages if m.role == "user"] == ["question 0", "question 1", "question 2"]
    assert messages[0].content_json()["type"] == "user"
    page = client.list_messages_page(session.id, after=seqs[0], limit=2)
    assert [m.sequence for m in page.items] == seqs[1:3] and page.has_more is True
    assert [m.sequence for m in client.list_messages(session.id, after=seqs[-2])] == seqs[-1:]

    events = list(client.iter_events(session.id, page_size=5))
    assert all(isinstance(e, SessionEvent) for e in events)
    assert [e.sequence for e in events] == sorted({e.sequence for e in events})
    dones = list(client.iter_events(session.id, type="done"))
    assert len(dones) == 3 and dones[0].data_json()["outcome"] == "completed"
    assert [e.sequence for e in client.list_events(session.id, type="done", after=dones[0].sequence)] == [
        d.sequence for d in dones[1:]
    ]
    assert client.list_session_events(session.id, limit=1)[0].sequence == events[0].sequence
    assert client.list_events_page(session.id, limit=1).has_more is True
    # Our own client gets the full log by default (its User-Agent is its own), the timeline on request.
    assert "session_start" in {e.type for e in events}
    timeline = client.list_events(session.id, view="timeline", limit=1000)
    assert timeline and {e.type for e in timeline} <= {
        "text", "tool_start", "tool_result", "reasoning", "turn_complete", "error", "lifecycle"
    }


def test_files_workspace_and_attachments(client: AshClient, agent_name: str) -> None:
    session = client.create_session(agent_name)
    up = client.upload_session_files(session.id, {"data/hello.txt": "hello", "data/bin.dat": bytes(range(256))})
    assert [f["written"] for f in up["files"]] == [True, True]
    listing = client.list_session_files(session.id, include_hidden=False)
    paths = {f["path"] for f in listing["files"]}
    assert {"data/hello.txt", "data/bin.dat"} <= paths
    assert client.get_session_file(session.id, "data/hello.txt")["content"] == "hello"
    assert client.download_session_file(session.id, "data/bin.dat") == bytes(range(256))
    assert client.download_session_file_raw(session.id, "data/hello.txt") == b"hello"
    client.delete_session_file(session.id, "data/hello.txt")
    with pytest.raises(NotFoundError):
        client.download_session_file(session.id, "data/hello.txt")

    bundle = client.download_workspace(session.id)
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        assert any(n.endswith("data/bin.dat") for n in tar.getnames())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("restored/r.txt")
        info.size = 8
        tar.addfile(info, io.BytesIO(b"restored"))
    restored = client.upload_workspace(session.id, buf.getvalue())
    assert restored["restored"] is True and restored["files"] == 1
    assert client.download_session_file(session.id, "restored/r.txt") == b"restored"
    with pytest.raises(BadRequestError) as bad:
        client.upload_workspace(session.id, b"not a tarball")
    assert bad.value.code == "invalid_bundle"

    att = client.upload_attachment(session.id, "report ü.pdf", b"%PDF-1.4 fake", mime_type="application/pdf")
    assert isinstance(att, Attachment) and att.size == 13 and att.mime_type == "application/pdf"
    assert [a.id for a in client.list_attachments(session.id)] == [att.id]
    got = client.download_attachment(att.id)
    assert got.content == b"%PDF-1.4 fake" and got.filename == "report ü.pdf" and got.mime_type.startswith("application/pdf")
    client.delete_attachment(att.id)
    with pytest.raises(NotFoundError):
        client.download_attachment(att.id)


def test_credentials_and_api_keys(client: AshClient, ash_server, agent_name: str) -> None:
    cred = client.store_credential("openai", "sk-py-openai-0123456789", label="one")
    assert isinstance(cred, Credential) and cred.type == "openai" and cred.active is True
    assert cred.id in [c.id for c in client.list_credentials()]
    assert "sk-py-openai" not in str([c.to_dict() for c in client.list_credentials()])
    assert client.get_credential(cred.id).label == "one"
    assert client.update_credential(cred.id, label="two", active=False).label == "two"
    with pytest.raises(BadRequestError) as bad:
        client.create_session(agent_name, credential_id=cred.id)
    assert bad.value.code == "invalid_credential"
    client.update_credential(cred.id, active=True)
    assert client.create_session(agent_name, credential_id=cred.id).status == "active"
    client.delete_credential(cred.id)
    with pytest.raises(NotFoundError):
        client.get_credential(cred.id)

    created = client.create_api_key("py")
    assert created.key.startswith("ash_")
    with AshClient(ash_server.url, api_key=created.key) as keyed:
        assert isinstance(keyed.list_agents(), list)
        assert created.id in [k.id for k in client.list_api_keys()]
        client.revoke_api_key(created.id)
        with pytest.raises(AuthenticationError) as unauth:
            keyed.list_agents()
        assert unauth.value.code == "unauthorized" and unauth.value.status_code == 401
    other = client.create_tenant_api_key("py-tenant", label="first", internal_secret=ash_server.internal_secret)
    assert other.tenant_id == "py-tenant"
    with AshClient(ash_server.url, token=other.key) as tenant:
        assert [k.tenant_id for k in tenant.list_api_keys()] == ["py-tenant"]
        assert agent_name not in [a.name for a in tenant.list_agents()]


def test_queue_and_usage(client: AshClient, ash_server, agent_name: str) -> None:
    session = client.create_session(agent_name)
    ash_server.enqueue({"text": "queued answer", "usage": {"input_tokens": 11, "output_tokens": 7}}, session_id=session.id)
    item = client.enqueue(agent_name, "from the queue", session_id=session.id, priority=5, max_retries=0)
    assert isinstance(item, QueueItem) and item.status in ("pending", "running")
    done = client.wait_for_queue_item(item.id, interval=0.2, timeout=120)
    assert done.status == "completed", done.error
    assert done.result["text"] == "queued answer"
    assert item.id in [i.id for i in client.list_queue_items(status="completed")]
    assert client.get_queue_stats()["completed"] >= 1
    later = client.enqueue(agent_name, "later", run_at="2099-01-01T00:00:00.000Z")
    assert client.cancel_queue_item(later.id).status == "cancelled"
    with pytest.raises(ConflictError) as conflict:
        client.cancel_queue_item(later.id)
    assert conflict.value.code == "queue_item_not_pending"

    records = client.list_usage(session_id=session.id)
    assert records and all(isinstance(r, UsageRecord) for r in records)
    calls = [r for r in client.list_usage(session_id=session.id, kind="model_call")]
    assert sum(r.input_tokens for r in calls) >= 11
    stats = client.get_usage_stats(session_id=session.id)
    assert stats["stats"]["totalOutputTokens"] >= 7
    # Egress counters are part of the totals (this agent has no network: all zero).
    assert stats["stats"]["totalEgressAllowed"] == 0 and stats["stats"]["totalEgressBytesDown"] == 0
    assert UsageTotals.from_dict(stats["stats"]).total_egress_denied == 0
    assert all(r.egress_allowed == 0 for r in records)
    grouped = client.get_usage_stats(group_by="agent")
    assert agent_name in [g["key"] for g in grouped["groups"]]
    assert client.list_usage_events(agent_name=agent_name, limit=1)[0].agent_name == agent_name
    assert client.set_budget(1000)["budgetUsd"] == 1000
    assert client.get_budget()["budgetUsd"] == 1000
    assert client.set_budget(None)["budgetUsd"] is None


def test_errors_map_to_the_typed_tree(client: AshClient, ash_server) -> None:
    with pytest.raises(ValidationError) as invalid:
        client.create_session("")
    assert invalid.value.code == "validation_failed" and invalid.value.errors
    assert isinstance(invalid.value, BadRequestError) and isinstance(invalid.value, httpx.HTTPStatusError)
    with pytest.raises(BadRequestError) as no_claude_md:  # 400, as the upstream Ash answers
        client.deploy_agent("no-claude-md", files=[{"path": "a.txt", "content": "eA=="}])
    assert no_claude_md.value.code == "invalid_agent_folder"
    with AshClient(ash_server.url, token="ash_wrong-key-000000000000000000000000") as wrong:
        with pytest.raises(AuthenticationError):
            wrong.list_agents()
    with pytest.raises(AshConnectionError):
        AshClient("http://127.0.0.1:9", max_retries=0).health()
    with pytest.raises(AshLocalError) as local:
        client.get_session_file("s", "a//b")
    assert local.value.code == "invalid_path"

    # Error classes by code first, then status (a 429 with its Retry-After).
    req = httpx.Request("GET", "http://x/api")
    limited = api_error_from_response(
        httpx.Response(429, headers={"retry-after": "7"}, json={"code": "rate_limited", "detail": "slow down"}, request=req)
    )
    assert isinstance(limited, RateLimitError) and limited.retry_after == 7.0 and limited.code == "rate_limited"
    busy = api_error_from_response(httpx.Response(409, json={"code": "session_busy", "detail": "busy"}, request=req))
    assert type(busy) is SessionBusyError
    unknown = api_error_from_response(httpx.Response(418, text="teapot", request=req))
    assert type(unknown) is AshApiError and unknown.code == "http_418"


def test_idempotent_requests_are_retried_and_others_not() -> None:
    """A real HTTP server on a socket answers 503 (Retry-After: 0) to the first request of each
    method: GET is retried and succeeds, POST is not retried."""
    import json as _json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.command)
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            first = seen.count(self.command) == 1
            status, body = (503, {"code": "capacity_reached", "detail": "full"}) if first else (200, {"agents": []})
            data = _json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("retry-after", "0")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with AshClient(f"http://127.0.0.1:{server.server_address[1]}", token="k") as c:
            assert c.list_agents() == []
            assert seen == ["GET", "GET"]  # the 503 was retried after its Retry-After
            with pytest.raises(AshApiError) as err:
                c.create_session("a")
            assert err.value.code == "capacity_reached" and seen == ["GET", "GET", "POST"]
    finally:
        server.shutdown()


@pytest.mark.anyio
async def test_async_client_covers_the_same_methods(ash_server, agent_name: str) -> None:
    async with AsyncAshClient(ash_server.url, token=ash_server.api_key) as ash:
        assert (await ash.health())["status"] == "ok"
        assert agent_name in [a.name for a in await ash.list_agents()]
        session = await ash.create_session(agent_name, model="claude-sonnet-4-5")
        assert (await ash.pause_session(session.id)).status == "paused"
        assert (await ash.resume_session(session.id)).status == "active"
        await ash.upload_session_files(session.id, {"a.txt": "A"})
        assert await ash.download_session_file(session.id, "a.txt") == b"A"
        ash_server.enqueue({"text": "hi"}, session_id=session.id)
        assert isinstance((await ash.send_message(session.id, "hello"))[-1], DoneEvent)
        assert [e.sequence async for e in ash.aiter_events(session.id, page_size=2)]
        with pytest.raises(SessionNotFoundError):
            await ash.get_session(str(uuid.uuid4()))
        assert (await ash.end_session(session.id)).status == "ended"


def test_remaining_methods_and_aliases(client: AshClient, ash_server, agent_name: str) -> None:
    session = client.create_session(agent_name)
    client.upload_session_files(session.id, {"keep.txt": "kept"})
    snap = client.snapshot_workspace(session.id)
    assert snap["sessionId"] == session.id and snap["size"] > 0
    assert "keep.txt" in {f["path"] for f in client.get_session_files(session.id)["files"]}

    ash_server.enqueue({"text": "Collected."}, session_id=session.id)
    events = client.send_message(session.id, [{"type": "text", "text": "content blocks work"}])
    assert isinstance(events[0], SessionStartEvent) and isinstance(events[-1], DoneEvent)
    assert client.list_messages(session.id)[0].text == "content blocks work"
    assert client.interrupt(session.id) is False

    cred = client.create_credential("custom", "custom-secret-0123456789", "alias")
    assert cred.type == "custom" and cred.label == "alias"
    assert cred["type"] == "custom" and cred.to_dict()["id"] == cred.id
    assert client.update_credential(cred.id, label=None).label is None
    client.delete_credential(cred.id)

    # Models keep fields a newer server adds, and dict-style access by the API's names.
    agent = client.get_agent(agent_name)
    assert agent["name"] == agent_name and agent.get("nope") is None
