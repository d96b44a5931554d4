"""The Python SDK keeps step with the TypeScript SDK: every public method of the TS client
(packages/sdk/src/client.ts) and of its resources (packages/sdk/src/resources/*.ts) has a Python
counterpart on both AshClient and AsyncAshClient. A method added to the TS SDK fails this test
until it is added here too (or listed in EXCEPTIONS with a reason)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ash_sdk import AshClient, AsyncAshClient

SDK_SRC = Path(__file__).resolve().parents[3] / "packages" / "sdk" / "src"

# Flat methods of the TS AshClient map by name (camelCase -> snake_case). Resource methods
# (`client.sessions.send`...) have no such rule: each is mapped to its Python name here.
RESOURCE_METHODS: dict[str, str] = {
    "Agents.deploy": "deploy_agent",
    "Agents.deployDirectory": "deploy_agent",
    "Agents.list": "list_agents",
    "Agents.get": "get_agent",
    "Agents.update": "update_agent",
    "Agents.delete": "delete_agent",
    "AgentFiles.list": "list_agent_files",
    "AgentFiles.read": "download_agent_file",
    "AgentFiles.readJson": "get_agent_file",
    "AgentFiles.upload": "upload_agent_files",
    "AgentFiles.delete": "delete_agent_file",
    "ApiKeys.create": "create_api_key",
    "ApiKeys.list": "list_api_keys",
    "ApiKeys.revoke": "revoke_api_key",
    "ApiKeys.createForTenant": "create_tenant_api_key",
    "Attachments.upload": "upload_attachment",
    "Attachments.list": "list_attachments",
    "Attachments.download": "download_attachment",
    "Attachments.delete": "delete_attachment",
    "Credentials.create": "create_credential",
    "Credentials.store": "store_credential",
    "Credentials.list": "list_credentials",
    "Credentials.get": "get_credential",
    "Credentials.update": "update_credential",
    "Credentials.delete": "delete_credential",
    "SessionFiles.list": "list_session_files",
    "SessionFiles.read": "download_session_file",
    "SessionFiles.readJson": "get_session_file",
    "SessionFiles.upload": "upload_session_files",
    "SessionFiles.uploadFromDisk": "upload_session_files_from_disk",
    "SessionFiles.delete": "delete_session_file",
    "SessionWorkspace.download": "download_workspace",
    "SessionWorkspace.upload": "upload_workspace",
    "SessionWorkspace.uploadFile": "upload_workspace_file",
    "SessionWorkspace.snapshot": "snapshot_workspace",
    "Queue.add": "enqueue",
    "Queue.list": "list_queue_items",
    "Queue.get": "get_queue_item",
    "Queue.cancel": "cancel_queue_item",
    "Queue.stats": "get_queue_stats",
    "Queue.wait": "wait_for_queue_item",
    "Sessions.create": "create_session",
    "Sessions.list": "list_sessions_with_total",
    "Sessions.get": "get_session",
    "Sessions.end": "end_session",
    "Sessions.updateConfig": "update_session_config",
    "Sessions.pause": "pause_session",
    "Sessions.stop": "stop_session",
    "Sessions.resume": "resume_session",
    "Sessions.fork": "fork_session",
    "Sessions.interrupt": "interrupt_session",
    "Sessions.answerToolRequest": "answer_tool_request",
    "Sessions.send": "send_message_stream",
    "Sessions.stream": "stream_session",
    "Sessions.messages": "list_messages_page",
    "Sessions.events": "list_events_page",
    "Sessions.logs": "get_session_logs",
    "Sessions.exec": "exec",
    "Usage.list": "list_usage",
    "Usage.stats": "get_usage_stats",
    "Usage.budget": "get_budget",
    "Usage.setBudget": "set_budget",
}

# TS methods with no Python counterpart on purpose, with the reason.
EXCEPTIONS: dict[str, str] = {
    # An operator route guarded by ASH_INTERNAL_SECRET (runner fleet), not a tenant API; the CLI's
    # `ash runner drain` uses it through the TS SDK.
    "Runners.drain": "operator-only (ASH_INTERNAL_SECRET), used by `ash runner drain`",
}

_CLASS = re.compile(r"^export class (\w+)")
# A member at the class's indentation: `  name(`, `  async name(`, `  async *name(`, `  name<T>(`.
_METHOD = re.compile(r"^  (?:async\s+)?(?:\*\s*)?([A-Za-z_]\w*)\s*(?:<[^>]*>)?\(")


def ts_public_methods(source: str) -> dict[str, list[str]]:
    """Public methods per exported class of a TS source (no constructor, private/static members, getters)."""
    out: dict[str, list[str]] = {}
    current: str | None = None
    for line in source.splitlines():
        m = _CLASS.match(line)
        if m:
            current = m.group(1)
            out[current] = []
            continue
        if line.startswith("}"):
            current = None
            continue
        if current is None:
            continue
        m = _METHOD.match(line)
        if m and m.group(1) != "constructor":
            out[current].append(m.group(1))
    return out


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def expected_python_names() -> dict[str, str]:
    """``TS method -> Python name`` for every public TS SDK method (``Class.method`` for resources)."""
    want: dict[str, str] = {}
    client = ts_public_methods((SDK_SRC / "client.ts").read_text())["AshClient"]
    for m in client:
        want[f"AshClient.{m}"] = snake(m)
    for path in sorted((SDK_SRC / "resources").glob("*.ts")):
        for cls, methods in ts_public_methods(path.read_text()).items():
            for m in methods:
                key = f"{cls}.{m}"
                want[key] = RESOURCE_METHODS.get(key, f"<unmapped: add {key} to RESOURCE_METHODS>")
    return want


def test_the_parser_finds_public_methods_only() -> None:
    src = """export class Demo {
  readonly files: Files;
  constructor(private readonly http: HttpClient) {}
  get serverUrl(): string {
    return x;
  }
  list(): Promise<void> {
    for (const a of b) {}
  }
  async getOne<T>(id: string): Promise<T> {}
  async *send(
    id: string,
  ): AsyncGenerator<X> {}
  private helper(): void {}
  static make(): Demo {}
}
function outside() {}
"""
    assert ts_public_methods(src) == {"Demo": ["list", "getOne", "send"]}
    assert snake("listSessionsWithTotal") == "list_sessions_with_total" and snake("exec") == "exec"


def test_every_ts_sdk_method_has_a_python_counterpart_in_both_clients() -> None:
    want = expected_python_names()
    # The parser found the SDK (a broken parser must not pass by finding nothing).
    assert sum(k.startswith("AshClient.") for k in want) >= 50
    assert {"Sessions.send", "Agents.list", "Usage.stats", "AshClient.exec"} <= want.keys()
    missing = [
        f"{ts} -> {py} ({', '.join(c.__name__ for c in (AshClient, AsyncAshClient) if not callable(getattr(c, py, None)))})"
        for ts, py in sorted(want.items())
        if ts not in EXCEPTIONS
        and not all(callable(getattr(c, py, None)) for c in (AshClient, AsyncAshClient))
    ]
    assert not missing, "TS SDK methods without a Python counterpart:\n" + "\n".join(missing)
    stale = sorted(k for k in [*RESOURCE_METHODS, *EXCEPTIONS] if k not in want)
    assert not stale, f"mapped TS methods that no longer exist (remove them): {stale}"


@pytest.mark.parametrize("cls", [AshClient, AsyncAshClient])
def test_public_methods_have_docstrings(cls: type) -> None:
    undocumented = [
        name
        for name in dir(cls)
        if not name.startswith("_") and callable(getattr(cls, name)) and not (getattr(cls, name).__doc__ or "").strip()
    ]
    assert not undocumented, f"{cls.__name__} methods without a docstring: {undocumented}"
