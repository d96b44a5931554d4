"""The methods beyond the basics, each called against a real server process (scripted model):
agent prompt versions, agent config, exec and logs of a session's sandbox, sessions with their
total, analytics; sync and async."""

from __future__ import annotations

import io
import os
import tarfile
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from ash_sdk import (
    ActivatedVersion,
    AgentVersion,
    Analytics,
    AshClient,
    AsyncAshClient,
    ExecResult,
    LogEntry,
    Session,
    SessionList,
    SessionLogs,
    UsageTotals,
)
from ash_sdk.errors import AshLocalError, BadRequestError, ConflictError, GoneError, NotFoundError
from ash_sdk.streaming import DoneEvent


def test_agent_versions_create_list_get_update_activate_delete(client: AshClient, agent_name: str) -> None:
    assert client.list_agent_versions(agent_name) == []
    v1 = client.create_agent_version(agent_name, system_prompt="You are v1.", release_notes="first")
    assert isinstance(v1, AgentVersion)
    assert (v1.agent_name, v1.version_number, v1.name, v1.is_active) == (agent_name, 1, "v1", False)
    assert v1.system_prompt == "You are v1." and v1.release_notes == "first" and v1.knowledge_files == []

    v2 = client.create_agent_version(agent_name, name="second", clone_from=1, knowledge_files=["CLAUDE.md"])
    assert (v2.version_number, v2.name, v2.system_prompt) == (2, "second", "You are v1.")
    assert client.get_agent_version(agent_name, 2).id == v2.id
    assert client.get_agent_version(agent_name, v2.id).version_number == 2  # by id too

    changed = client.update_agent_version(agent_name, 2, system_prompt="You are v2.", release_notes="better")
    assert (changed.system_prompt, changed.release_notes, changed.name) == ("You are v2.", "better", "second")

    activated = client.activate_agent_version(agent_name, 2)
    assert isinstance(activated, ActivatedVersion)
    assert activated.activated is True and activated.version_number == 2
    assert [v.is_active for v in client.list_agent_versions(agent_name)] == [False, True]

    # A new session without its own system prompt gets the active version's.
    session = client.create_session(agent_name)
    assert session.config is not None and session.config.get("systemPrompt") == "You are v2."
    client.end_session(session.id)

    assert client.delete_agent_version(agent_name, 1) is None
    with pytest.raises(NotFoundError):
        client.get_agent_version(agent_name, 1)
    assert [v.version_number for v in client.list_agent_versions(agent_name)] == [2]
    with pytest.raises(BadRequestError):
        client.create_agent_version(agent_name, clone_from=99)
    with pytest.raises(NotFoundError):
        client.list_agent_versions(f"nope-{uuid.uuid4().hex[:6]}")


def test_agent_config_get_update_replace_and_a_session_sees_it(client: AshClient, ash_server, agent_name: str) -> None:
    assert client.get_agent_config(agent_name) == {}
    assert client.replace_agent_config(agent_name, {"model": "claude-haiku-4-5", "maxTurns": 4}) == {
        "model": "claude-haiku-4-5",
        "maxTurns": 4,
    }
    merged = client.update_agent_config(agent_name, {"maxTurns": 6, "effort": "low"})
    assert merged == {"model": "claude-haiku-4-5", "maxTurns": 6, "effort": "low"}
    assert client.update_agent_config(agent_name, {"effort": None}) == {"model": "claude-haiku-4-5", "maxTurns": 6}
    assert client.get_agent_config(agent_name) == {"model": "claude-haiku-4-5", "maxTurns": 6}
    assert client.get_agent(agent_name).config == {"model": "claude-haiku-4-5", "maxTurns": 6}

    # A session's turn runs with the agent's configured model (seen by the scripted model).
    session = client.create_session(agent_name)
    ash_server.enqueue({"text": "Configured."}, session_id=session.id)
    assert isinstance(client.send_message(session.id, "which model?")[-1], DoneEvent)
    turn_requests = [r for r in ash_server.model_requests() if r.get("sessionId") == session.id and r.get("tools")]
    assert turn_requests and {r.get("model") for r in turn_requests} == {"claude-haiku-4-5"}
    client.end_session(session.id)

    with pytest.raises(BadRequestError):
        client.replace_agent_config(agent_name, {"maxTurns": "many"})
    assert client.replace_agent_config(agent_name, {}) == {}
    with pytest.raises(NotFoundError):
        client.get_agent_config(f"nope-{uuid.uuid4().hex[:6]}")


def test_exec_bounded_and_its_output_in_the_logs(client: AshClient, agent_name: str) -> None:
    session = client.create_session(agent_name)
    result = client.exec(session.id, "pwd; echo out-$((6*7)); echo err-line >&2; exit 3")
    assert isinstance(result, ExecResult)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "/workspace\nout-42\n", "err-line\n")
    assert result.timed_out is False and result.truncated is False and isinstance(result.duration_ms, int)

    started = time.monotonic()
    slow = client.exec(session.id, "sleep 60", timeout_ms=500)
    assert slow.exit_code == 124 and slow.timed_out is True
    assert time.monotonic() - started < 30  # bounded by the server, not by the command

    big = client.exec(session.id, 'head -c 3000000 /dev/zero | tr "\\0" x')
    assert big.truncated is True and len(big.stdout) == 1024 * 1024
    with pytest.raises(BadRequestError):
        client.exec(session.id, "true", timeout_ms=0)

    logs = client.get_session_logs(session.id)
    assert isinstance(logs, SessionLogs) and logs.source == "sandbox"
    assert all(isinstance(entry, LogEntry) for entry in logs.logs)
    texts = [entry.text for entry in logs.logs]
    assert "out-42" in texts
    assert next(e for e in logs.logs if e.text == "err-line").level == "stderr"
    indexes = [entry.index for entry in logs.logs]
    assert indexes == sorted(indexes)
    assert client.get_session_logs(session.id, after=indexes[-1]).logs == []
    assert [e.text for e in client.get_session_logs(session.id, after=indexes[-2]).logs] == [texts[-1]]

    client.pause_session(session.id)
    with pytest.raises(ConflictError):
        client.exec(session.id, "true")
    client.end_session(session.id)
    with pytest.raises(GoneError):
        client.exec(session.id, "true")
    with pytest.raises(NotFoundError):
        client.get_session_logs(str(uuid.uuid4()))


def test_list_sessions_with_total_and_analytics(client: AshClient, ash_server, agent_name: str) -> None:
    first = client.create_session(agent_name)
    second = client.create_session(agent_name)
    ash_server.enqueue({"text": "Counted."}, session_id=second.id)
    assert isinstance(client.send_message(second.id, "count me")[-1], DoneEvent)

    page = client.list_sessions_with_total(agent_name, limit=1)
    assert isinstance(page, SessionList) and page.total == 2 and page.has_more is True
    assert len(page.sessions) == 1 and isinstance(page.sessions[0], Session)
    rest = client.list_sessions_with_total(agent_name, limit=1, offset=1)
    assert rest.total == 2 and rest.has_more is False
    assert {page.sessions[0].id, rest.sessions[0].id} == {first.id, second.id}
    client.pause_session(first.id)
    assert [s.id for s in client.list_sessions_with_total(agent_name, status="paused").sessions] == [first.id]

    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    analytics = client.get_analytics(after=hour_ago)
    assert isinstance(analytics, Analytics) and isinstance(analytics.usage, UsageTotals)
    assert analytics.agents_total >= 1 and analytics.sessions_total >= 2
    assert analytics.sessions_by_status.get("paused", 0) >= 1
    assert analytics.usage.total_input_tokens > 0 and analytics.usage.total_turns >= 1
    assert analytics.evals == {"totalRuns": 0, "byStatus": {}}
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert client.get_analytics(after=future).usage.total_input_tokens == 0
    with pytest.raises(BadRequestError):
        client.get_analytics(after="not a time")
    for s in (first, second):
        client.end_session(s.id)


@pytest.mark.anyio
async def test_async_client_has_the_same_methods(ash_server, agent_name: str) -> None:
    async with AsyncAshClient(ash_server.url, token=ash_server.api_key) as ash:
        v = await ash.create_agent_version(agent_name, system_prompt="Async prompt.")
        assert [x.id for x in await ash.list_agent_versions(agent_name)] == [v.id]
        assert (await ash.update_agent_version(agent_name, v.version_number, name="renamed")).name == "renamed"
        assert (await ash.get_agent_version(agent_name, v.id)).name == "renamed"
        assert (await ash.activate_agent_version(agent_name, v.version_number)).version_number == 1
        await ash.delete_agent_version(agent_name, v.id)
        assert await ash.list_agent_versions(agent_name) == []

        assert await ash.update_agent_config(agent_name, {"maxTurns": 3}) == {"maxTurns": 3}
        assert await ash.get_agent_config(agent_name) == {"maxTurns": 3}
        assert await ash.replace_agent_config(agent_name, {}) == {}

        session = await ash.create_session(agent_name)
        result = await ash.exec(session.id, "echo async-$((1+1))")
        assert result.exit_code == 0 and result.stdout == "async-2\n"
        assert "async-2" in [e.text for e in (await ash.get_session_logs(session.id)).logs]
        listed = await ash.list_sessions_with_total(agent_name)
        assert listed.total == 1 and listed.sessions[0].id == session.id
        assert (await ash.get_analytics()).sessions_total >= 1
        await ash.end_session(session.id)


def _bundle(path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_uploads_streamed_from_disk_and_refused_over_the_limits(client: AshClient, agent_name: str, tmp_path) -> None:
    session = client.create_session(agent_name)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 1))  # not a multiple of the chunk size nor of 3
    small = tmp_path / "small.txt"
    small.write_text("héllo")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    out = client.upload_session_files_from_disk(
        session.id, {"data/big.bin": big, "data/small.txt": str(small), "data/empty": empty}
    )
    assert sorted(f["path"] for f in out["files"]) == ["data/big.bin", "data/empty", "data/small.txt"]
    assert client.download_session_file(session.id, "data/big.bin") == big.read_bytes()
    assert client.download_session_file(session.id, "data/small.txt") == "héllo".encode()
    assert client.download_session_file(session.id, "data/empty") == b""
    client.upload_session_files_from_disk(session.id, [("s.txt", small)], target_path="sub")
    assert client.download_session_file(session.id, "sub/s.txt") == "héllo".encode()

    # Over a limit: refused before anything is sent (the server's own, or given ones).
    with pytest.raises(AshLocalError) as err:
        client.upload_session_files_from_disk(session.id, {"x.bin": big}, limits={"fileBytes": 1024})
    assert err.value.code == "payload_too_large" and "nothing was sent" in str(err.value)
    with pytest.raises(AshLocalError) as err:
        client.upload_session_files_from_disk(
            session.id, {"a": small, "b": small}, limits={"fileBytes": 100, "fileBatchBytes": 10}
        )
    assert err.value.code == "payload_too_large"
    with pytest.raises(NotFoundError):
        client.download_session_file(session.id, "x.bin")
    with pytest.raises(AshLocalError) as err:
        client.upload_session_files_from_disk(session.id, {"x": tmp_path / "missing"})
    assert err.value.code == "local_io_error"

    bundle = tmp_path / "ws.tar.gz"
    _bundle(bundle, {"restored/one.txt": b"one", "restored/two.bin": b"\x00\x02"})
    restored = client.upload_workspace_file(session.id, bundle)
    assert restored["restored"] is True and restored["files"] == 2
    assert client.download_session_file(session.id, "restored/two.bin") == b"\x00\x02"
    with pytest.raises(AshLocalError) as err:
        client.upload_workspace_file(session.id, bundle, limits={"bundleBytes": 10})
    assert err.value.code == "payload_too_large"
    not_gzip = tmp_path / "bad.tar.gz"
    not_gzip.write_bytes(b"not a bundle")
    with pytest.raises(BadRequestError):
        client.upload_workspace_file(session.id, not_gzip)
    client.end_session(session.id)


@pytest.mark.anyio
async def test_async_uploads_streamed_from_disk(ash_server, agent_name: str, tmp_path) -> None:
    payload = os.urandom(200_001)
    (tmp_path / "p.bin").write_bytes(payload)
    _bundle(tmp_path / "b.tar.gz", {"from-bundle.txt": b"bundled"})
    async with AsyncAshClient(ash_server.url, token=ash_server.api_key) as ash:
        session = await ash.create_session(agent_name)
        await ash.upload_session_files_from_disk(session.id, {"p.bin": tmp_path / "p.bin"})
        assert await ash.download_session_file(session.id, "p.bin") == payload
        assert (await ash.upload_workspace_file(session.id, tmp_path / "b.tar.gz"))["files"] == 1
        assert await ash.download_session_file(session.id, "from-bundle.txt") == b"bundled"
        with pytest.raises(AshLocalError):
            await ash.upload_workspace_file(session.id, tmp_path / "b.tar.gz", limits={"bundleBytes": 1})
        await ash.end_session(session.id)
