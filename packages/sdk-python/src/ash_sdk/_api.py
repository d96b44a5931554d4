"""Every API operation, described once and run by the sync or the async client.

Each method builds a :class:`Req` and hands it to ``self._run``: :class:`ash_sdk.AshClient` runs it
and returns the value; :class:`ash_sdk.AsyncAshClient` returns an awaitable of the same value.
"""

from __future__ import annotations

import base64
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from ._folder import read_agent_folder
from ._upload import DiskBody, DiskFile, json_files_body
from .errors import AshLocalError
from .models import (
    ActivatedVersion,
    Agent,
    AgentVersion,
    Analytics,
    ApiKey,
    Attachment,
    CreatedApiKey,
    Credential,
    DownloadedAttachment,
    ExecResult,
    Message,
    Page,
    QueueItem,
    Session,
    SessionEvent,
    SessionList,
    SessionLogs,
    UsageRecord,
)

_UNSET: Any = object()
"""Marks an argument that was not given (``None`` means JSON ``null``: remove the option)."""


@dataclass
class Req:
    """One HTTP request and how to read its answer."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    parse: Callable[[httpx.Response], Any] = lambda r: r.json() if r.content else None
    timeout: float | None = None
    """Seconds for this request instead of the client's ``timeout`` (e.g. a long ``exec``)."""
    stream: DiskBody | None = None
    """A body streamed from local files (instead of ``json``/``content``)."""


def seg(value: str) -> str:
    """One URL path segment, percent-encoded (``/`` included)."""
    return quote(str(value), safe="")


def file_path(path: str) -> str:
    """A relative file path as URL segments. Raises AshLocalError ``invalid_path`` for ``.``/``..``/empty segments."""
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise AshLocalError(
            "invalid_path", f"invalid path {path!r}: use a relative path without empty, '.' or '..' segments", path
        )
    return "/".join(quote(p, safe="") for p in parts)


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode("utf-8") if isinstance(data, str) else data).decode("ascii")


def _q(**kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in kw.items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else v
    return out


def _body(**kw: Any) -> dict[str, Any]:
    """A JSON body of the given keys, leaving out ``None``."""
    return {k: v for k, v in kw.items() if v is not None}


def _files_body(files: Mapping[str, bytes | str] | list[tuple[str, bytes | str]], target_path: str | None) -> dict[str, Any]:
    items = files.items() if isinstance(files, Mapping) else files
    return _body(files=[{"path": p, "content": b64(c)} for p, c in items], targetPath=target_path)


def _disposition_filename(header: str | None) -> str | None:
    if not header:
        return None
    star = re.search(r"filename\*\s*=\s*UTF-8''([^;\s]+)", header, re.I)
    if star:
        from urllib.parse import unquote

        return unquote(star.group(1))
    plain = re.search(r'filename\s*=\s*"([^"]*)"', header, re.I)
    return plain.group(1) if plain else None


def _one(cls: Any, key: str) -> Callable[[httpx.Response], Any]:
    return lambda r: cls.from_dict(r.json()[key])


def _many(cls: Any, key: str) -> Callable[[httpx.Response], Any]:
    return lambda r: [cls.from_dict(x) for x in r.json()[key]]


def _page(cls: Any, key: str) -> Callable[[httpx.Response], Page]:
    def parse(r: httpx.Response) -> Page:
        j = r.json()
        return Page([cls.from_dict(x) for x in j[key]], bool(j.get("hasMore", False)))

    return parse


def _bytes(r: httpx.Response) -> bytes:
    return r.content


def _iso(value: str | datetime | None) -> str | None:
    """A timestamp query value: ISO-8601 text as given, or a datetime formatted so."""
    return value.isoformat() if isinstance(value, datetime) else value


def _session_list(r: httpx.Response) -> SessionList:
    j = r.json()
    return SessionList(
        [Session.from_dict(x) for x in j["sessions"]], int(j.get("total", len(j["sessions"]))), bool(j.get("hasMore"))
    )


def _version_path(agent_name: str, version: int | str) -> str:
    return f"/api/agents/{seg(agent_name)}/versions/{seg(str(version))}"


_EXEC_DEFAULT_MS = 30_000


def _send_body(
    content: str | list[dict[str, Any]],
    *,
    include_partial_messages: bool | None,
    model: str | None,
    max_turns: int | None,
    max_budget_usd: float | None,
    effort: str | None,
    thinking: dict[str, Any] | None,
    output_format: dict[str, Any] | None,
    on_busy: str | None,
) -> dict[str, Any]:
    return _body(
        content=content,
        includePartialMessages=include_partial_messages or None,
        model=model,
        maxTurns=max_turns,
        maxBudgetUsd=max_budget_usd,
        effort=effort,
        thinking=thinking,
        outputFormat=output_format,
        onBusy=on_busy,
    )


class Api(ABC):
    """The API operations shared by :class:`AshClient` and :class:`AsyncAshClient`."""

    @abstractmethod
    def _run(self, req: Req) -> Any:
        """Sends one request: the sync client returns the result, the async one an awaitable."""

    # -- health ---------------------------------------------------------------------------------

    def health(self) -> Any:
        """``GET /health`` (public): status, version, uptime, pool figures. Returns the dict."""
        return self._run(Req("GET", "/health"))

    # -- agents ---------------------------------------------------------------------------------

    def deploy_agent(
        self,
        name: str,
        path: str | os.PathLike[str] | None = None,
        *,
        files: list[dict[str, str]] | None = None,
        env: dict[str, str] | None = None,
        description: str | None = None,
        config: dict[str, Any] | None = None,
        system_prompt: str | None = None,
        server_path: bool | None = None,
        max_bytes: int = 100 * 1024 * 1024,
    ) -> Any:
        """Deploys (or redeploys, bumping the version) an agent; returns the :class:`Agent`.

        ``path`` is a local folder with ``CLAUDE.md``: its files are uploaded (skipping ``.git``,
        ``node_modules``, ``.env*`` and ignored files), so this works against a remote server too.
        When ``path`` is not a local folder, or ``server_path=True``, it is sent as a folder on
        the server's machine (the upstream behaviour; the server must allow it with
        ``ASH_DEPLOY_PATH_ROOTS``). ``files`` uploads given ``{"path", "content"(base64)}`` entries.

        Raises:
            UnprocessableEntityError: no ``CLAUDE.md``. AshLocalError: unreadable local folder.
        """
        body = _body(name=name, env=env, description=description, config=config, systemPrompt=system_prompt)
        if files is not None:
            body["files"] = files
        elif path is not None:
            local = server_path is not True and os.path.isdir(path)
            if local:
                body["files"] = read_agent_folder(path, max_bytes)
            else:
                body["path"] = os.fspath(path)
        return self._run(Req("POST", "/api/agents", json=body, parse=_one(Agent, "agent")))

    def list_agents(self) -> Any:
        """All agents of your tenant: ``list[Agent]``."""
        return self._run(Req("GET", "/api/agents", parse=_many(Agent, "agents")))

    def get_agent(self, name: str) -> Any:
        """One :class:`Agent`. Raises NotFoundError (``agent_not_found``)."""
        return self._run(Req("GET", f"/api/agents/{seg(name)}", parse=_one(Agent, "agent")))

    def update_agent(
        self,
        name: str,
        *,
        description: str | None = None,
        env: dict[str, str] | None = None,
        config: dict[str, Any] | None = None,
    ) -> Any:
        """Replaces ``env``, shallow-merges ``config``, sets ``description``; returns the :class:`Agent`."""
        body = _body(description=description, env=env, config=config)
        return self._run(Req("PATCH", f"/api/agents/{seg(name)}", json=body, parse=_one(Agent, "agent")))

    def delete_agent(self, name: str) -> Any:
        """Deletes the agent (its sessions end). Raises NotFoundError."""
        return self._run(Req("DELETE", f"/api/agents/{seg(name)}", parse=lambda r: None))

    def list_agent_files(self, name: str) -> Any:
        """The current version's files: ``{"files": [...], "version", "truncated"}``."""
        return self._run(Req("GET", f"/api/agents/{seg(name)}/files"))

    def get_agent_file(self, name: str, path: str) -> Any:
        """A file of the agent as JSON ``{path, content, encoding, size, mimeType, version}``."""
        return self._run(Req("GET", f"/api/agents/{seg(name)}/files/{file_path(path)}", params={"format": "json"}))

    def download_agent_file(self, name: str, path: str) -> Any:
        """A file of the agent, its exact bytes."""
        return self._run(Req("GET", f"/api/agents/{seg(name)}/files/{file_path(path)}", parse=_bytes))

    def upload_agent_files(
        self, name: str, files: Mapping[str, bytes | str] | list[tuple[str, bytes | str]], *, target_path: str | None = None
    ) -> Any:
        """Writes files into the agent (a new version): ``{"agent", "files": [per-file results]}``."""
        return self._run(Req("POST", f"/api/agents/{seg(name)}/files", json=_files_body(files, target_path)))

    def delete_agent_file(self, name: str, path: str) -> Any:
        """Deletes a file of the agent (a new version): ``{"agent", "files"}``."""
        return self._run(Req("DELETE", f"/api/agents/{seg(name)}/files/{file_path(path)}"))

    # -- agent prompt versions and config --------------------------------------------------------

    def list_agent_versions(self, agent_name: str) -> Any:
        """The agent's prompt versions, oldest first: ``list[AgentVersion]``. Raises NotFoundError."""
        return self._run(
            Req("GET", f"/api/agents/{seg(agent_name)}/versions", parse=_many(AgentVersion, "versions"))
        )

    def create_agent_version(
        self,
        agent_name: str,
        *,
        name: str | None = None,
        system_prompt: str | None = None,
        release_notes: str | None = None,
        knowledge_files: list[str] | None = None,
        clone_from: int | str | None = None,
    ) -> Any:
        """Creates the agent's next prompt version (inactive; ``name`` defaults to ``v<number>``);
        returns the :class:`AgentVersion`. ``clone_from`` (a version number or id) copies the
        ``system_prompt`` and ``knowledge_files`` not given.

        Raises:
            NotFoundError: unknown agent. BadRequestError: unknown ``clone_from`` or a bad field.
        """
        body = _body(
            name=name,
            systemPrompt=system_prompt,
            releaseNotes=release_notes,
            knowledgeFiles=knowledge_files,
            cloneFrom=clone_from,
        )
        return self._run(
            Req("POST", f"/api/agents/{seg(agent_name)}/versions", json=body, parse=_one(AgentVersion, "version"))
        )

    def get_agent_version(self, agent_name: str, version: int | str) -> Any:
        """One :class:`AgentVersion`, by number or id. Raises NotFoundError."""
        return self._run(Req("GET", _version_path(agent_name, version), parse=_one(AgentVersion, "version")))

    def update_agent_version(
        self,
        agent_name: str,
        version: int | str,
        *,
        name: str | None = None,
        system_prompt: str | None = None,
        release_notes: str | None = None,
        knowledge_files: list[str] | None = None,
    ) -> Any:
        """Changes the given fields of a prompt version; returns the :class:`AgentVersion`.
        Raises NotFoundError, BadRequestError."""
        body = _body(name=name, systemPrompt=system_prompt, releaseNotes=release_notes, knowledgeFiles=knowledge_files)
        return self._run(
            Req("PATCH", _version_path(agent_name, version), json=body, parse=_one(AgentVersion, "version"))
        )

    def delete_agent_version(self, agent_name: str, version: int | str) -> Any:
        """Deletes a prompt version (by number or id). Raises NotFoundError."""
        return self._run(Req("DELETE", _version_path(agent_name, version), parse=lambda r: None))

    def activate_agent_version(self, agent_name: str, version: int | str) -> Any:
        """Makes a version the active one: new sessions without their own ``system_prompt`` get its
        prompt. Returns :class:`ActivatedVersion` (``version_number``). Raises NotFoundError."""
        return self._run(
            Req(
                "POST",
                f"{_version_path(agent_name, version)}/activate",
                parse=lambda r: ActivatedVersion.from_dict(r.json()),
            )
        )

    def get_agent_config(self, name: str) -> Any:
        """The agent's config (session defaults such as ``model``, ``maxTurns``; secrets redacted)
        as a dict with the API's camelCase keys. Raises NotFoundError."""
        return self._run(Req("GET", f"/api/agents/{seg(name)}/config", parse=lambda r: r.json()["config"]))

    def update_agent_config(self, name: str, config: Mapping[str, Any]) -> Any:
        """Shallow-merges ``config`` (camelCase keys, e.g. ``{"maxTurns": 5}``) into the agent's
        config; a ``None`` value removes that key. Returns the whole config.
        Raises NotFoundError, BadRequestError (a bad value)."""
        return self._run(
            Req("PATCH", f"/api/agents/{seg(name)}/config", json=dict(config), parse=lambda r: r.json()["config"])
        )

    def replace_agent_config(self, name: str, config: Mapping[str, Any]) -> Any:
        """Replaces the agent's config with ``config`` (``PUT``): keys not given are removed.
        Returns the new config. Raises NotFoundError, BadRequestError."""
        return self._run(
            Req("PUT", f"/api/agents/{seg(name)}/config", json=dict(config), parse=lambda r: r.json()["config"])
        )

    # -- sessions -------------------------------------------------------------------------------

    def create_session(
        self,
        agent: str,
        *,
        credential_id: str | None = None,
        extra_env: dict[str, str] | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        permission_mode: str | None = None,
        allowed_tools: list[str] | None = None,
        disallowed_tools: list[str] | None = None,
        mcp_servers: dict[str, dict[str, Any]] | None = None,
        betas: list[str] | None = None,
        subagents: dict[str, Any] | None = None,
        initial_agent: str | None = None,
        budget_usd: float | None = None,
        ask_tools: list[str] | None = None,
        custom_tools: list[dict[str, Any]] | None = None,
    ) -> Any:
        """Creates a session on an agent; returns the :class:`Session` (status ``active``).

        ``ask_tools``: tools whose every call waits for the client's approval (a
        ``permission_request`` event); ``custom_tools`` (``[{name, description, inputSchema}]``):
        tools the client executes (a ``custom_tool_use`` event). Answer both with
        :meth:`answer_tool_request`.

        Raises:
            NotFoundError: unknown agent. BadRequestError: bad option or credential.
            UnprocessableEntityError: the agent's files are gone. ServiceUnavailableError: no capacity.
        """
        body = _body(
            agent=agent,
            credentialId=credential_id,
            extraEnv=extra_env,
            model=model,
            systemPrompt=system_prompt,
            permissionMode=permission_mode,
            allowedTools=allowed_tools,
            disallowedTools=disallowed_tools,
            mcpServers=mcp_servers,
            betas=betas,
            subagents=subagents,
            initialAgent=initial_agent,
            budgetUsd=budget_usd,
            askTools=ask_tools,
            customTools=custom_tools,
        )
        return self._run(Req("POST", "/api/sessions", json=body, parse=_one(Session, "session")))

    def list_sessions(
        self,
        agent: str | None = None,
        *,
        status: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Any:
        """Sessions, newest first: ``list[Session]`` (one page; see ``iter_sessions``)."""
        params = _q(agent=agent, status=status, limit=limit, offset=offset)
        return self._run(Req("GET", "/api/sessions", params=params, parse=_many(Session, "sessions")))

    def list_sessions_with_total(
        self,
        agent: str | None = None,
        *,
        status: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Any:
        """One page of sessions, newest first, with the number matching the filter: :class:`SessionList`
        (``sessions``, ``total``, ``has_more``)."""
        params = _q(agent=agent, status=status, limit=limit, offset=offset)
        return self._run(Req("GET", "/api/sessions", params=params, parse=_session_list))

    def get_session(self, session_id: str) -> Any:
        """One :class:`Session`. Raises NotFoundError (``session_not_found``)."""
        return self._run(Req("GET", f"/api/sessions/{seg(session_id)}", parse=_one(Session, "session")))

    def _lifecycle(self, session_id: Any, action: str) -> Any:
        return self._run(Req("POST", f"/api/sessions/{seg(session_id)}/{action}", parse=_one(Session, "session")))

    def pause_session(self, session_id: str) -> Any:
        """Pauses: the session's processes stop; workspace and transcript stay. Returns the :class:`Session`."""
        return self._lifecycle(session_id, "pause")

    def stop_session(self, session_id: str) -> Any:
        """Stops the session's processes (upstream name); resumable. Returns the :class:`Session`."""
        return self._lifecycle(session_id, "stop")

    def resume_session(self, session_id: str) -> Any:
        """Resumes a paused or stopped session. Raises GoneError (``session_ended``)."""
        return self._lifecycle(session_id, "resume")

    def fork_session(self, session_id: str) -> Any:
        """A new session with a copy of the history, transcript, workspace and config."""
        return self._lifecycle(session_id, "fork")

    def end_session(self, session_id: str) -> Any:
        """Ends the session (terminal; history stays). Returns the :class:`Session`."""
        return self._run(Req("DELETE", f"/api/sessions/{seg(session_id)}", parse=_one(Session, "session")))

    def interrupt_session(self, session_id: str) -> Any:
        """Interrupts the running turn; returns whether one was running."""
        return self._run(
            Req("POST", f"/api/sessions/{seg(session_id)}/interrupt", parse=lambda r: bool(r.json().get("interrupted")))
        )

    def answer_tool_request(
        self,
        session_id: str,
        request_id: str,
        result: str,
        *,
        deny_message: str | None = None,
        content: list[dict[str, Any]] | None = None,
        is_error: bool | None = None,
    ) -> Any:
        """Answers a call that waits for the client (``POST /api/sessions/:id/tool-answers``).

        ``request_id`` is the ``id`` of the ``permission_request`` or ``custom_tool_use`` event.
        ``result``: ``"allow"`` or ``"deny"`` (with ``deny_message``, what the model receives) for a
        permission request; ``"result"`` (with ``content``: text or base64 image blocks, and
        ``is_error``) for a custom tool. Returns the server's answer as a dict:
        ``{"answer": {...}, "outcome": "delivered" | "resumed"}``.

        Raises:
            NotFoundError. GoneError: the session ended. BadRequestError: a bad answer, or no
            such call waits in the session (unknown or already answered).
        """
        body = _body(id=request_id, result=result, denyMessage=deny_message, content=content, isError=is_error)
        return self._run(
            Req("POST", f"/api/sessions/{seg(session_id)}/tool-answers", json=body, parse=lambda r: r.json())
        )

    def update_session_config(
        self,
        session_id: str,
        *,
        model: Any = _UNSET,
        system_prompt: Any = _UNSET,
        permission_mode: Any = _UNSET,
        mcp_servers: Any = _UNSET,
        allowed_tools: Any = _UNSET,
        disallowed_tools: Any = _UNSET,
        betas: Any = _UNSET,
        subagents: Any = _UNSET,
        initial_agent: Any = _UNSET,
        budget_usd: Any = _UNSET,
    ) -> Any:
        """Changes session options for later turns. A value sets an option; ``None`` removes it
        (the agent's default applies again); options not given are unchanged. Returns the :class:`Session`."""
        given = {
            "model": model,
            "systemPrompt": system_prompt,
            "permissionMode": permission_mode,
            "mcpServers": mcp_servers,
            "allowedTools": allowed_tools,
            "disallowedTools": disallowed_tools,
            "betas": betas,
            "subagents": subagents,
            "initialAgent": initial_agent,
            "budgetUsd": budget_usd,
        }
        body = {k: v for k, v in given.items() if v is not _UNSET}
        return self._run(
            Req("PATCH", f"/api/sessions/{seg(session_id)}/config", json=body, parse=_one(Session, "session"))
        )

    def exec(self, session_id: str, command: str, *, timeout_ms: int | None = None) -> Any:
        """Runs ``command`` with ``sh -c`` in the session's sandbox (cwd: its workspace, same
        isolation and limits as its Claude process) and returns the :class:`ExecResult`.

        The server kills the command after ``timeout_ms`` milliseconds (1..300000, default 30000;
        then ``exit_code`` is 124 and ``timed_out`` True) and cuts stdout and stderr at 1 MiB each
        (``truncated``). The HTTP request waits that long plus 30 s, whatever the client's timeout.
        Not retried (a command may have effects).

        Raises:
            ConflictError: the session is not active (paused/stopped: resume it first).
            GoneError: the session ended. NotFoundError. BadRequestError: bad ``timeout_ms``.
        """
        body = _body(command=command, timeout=timeout_ms)
        wait = ((timeout_ms if timeout_ms is not None else _EXEC_DEFAULT_MS) + 30_000) / 1000
        return self._run(
            Req(
                "POST",
                f"/api/sessions/{seg(session_id)}/exec",
                json=body,
                timeout=wait,
                parse=lambda r: ExecResult.from_dict(r.json()),
            )
        )

    def get_session_logs(self, session_id: str, *, after: int | None = None) -> Any:
        """The sandbox's recent output lines (Claude's stderr, ``exec`` output, system notes) with an
        index greater than ``after`` (default: all that are kept, up to 10,000): :class:`SessionLogs`.
        Empty when the session has no live sandbox on the server. Raises NotFoundError."""
        return self._run(
            Req(
                "GET",
                f"/api/sessions/{seg(session_id)}/logs",
                params=_q(after=after),
                parse=lambda r: SessionLogs.from_dict(r.json()),
            )
        )

    # -- history --------------------------------------------------------------------------------

    def list_messages_page(self, session_id: str, *, after: int | None = None, limit: int | None = None) -> Any:
        """A :class:`Page` of :class:`Message` with ``sequence > after``."""
        params = _q(after=after, limit=limit)
        return self._run(
            Req("GET", f"/api/sessions/{seg(session_id)}/messages", params=params, parse=_page(Message, "messages"))
        )

    def list_messages(self, session_id: str, *, after: int | None = None, limit: int | None = None) -> Any:
        """Persisted messages with ``sequence > after`` (one page): ``list[Message]``."""
        params = _q(after=after, limit=limit)
        return self._run(
            Req("GET", f"/api/sessions/{seg(session_id)}/messages", params=params, parse=_many(Message, "messages"))
        )

    def list_events_page(
        self,
        session_id: str,
        *,
        after: int | None = None,
        limit: int | None = None,
        type: str | None = None,
        turn_id: str | None = None,
        view: str | None = None,
    ) -> Any:
        """A :class:`Page` of :class:`SessionEvent` with ``sequence > after``.

        ``view="timeline"`` gives the upstream Ash's timeline (text, tool_start, tool_result, reasoning,
        turn_complete, error, lifecycle) instead of the full log.
        """
        params = _q(after=after, limit=limit, type=type, turnId=turn_id, view=view)
        return self._run(
            Req("GET", f"/api/sessions/{seg(session_id)}/events", params=params, parse=_page(SessionEvent, "events"))
        )

    def list_events(
        self,
        session_id: str,
        *,
        after: int | None = None,
        limit: int | None = None,
        type: str | None = None,
        turn_id: str | None = None,
        view: str | None = None,
    ) -> Any:
        """Persisted events (what was streamed, plus lifecycle events), one page: ``list[SessionEvent]``.

        ``view="timeline"`` gives the upstream Ash's timeline (text, tool_start, tool_result, reasoning,
        turn_complete, error, lifecycle) instead of the full log.
        """
        params = _q(after=after, limit=limit, type=type, turnId=turn_id, view=view)
        return self._run(
            Req("GET", f"/api/sessions/{seg(session_id)}/events", params=params, parse=_many(SessionEvent, "events"))
        )

    # -- session files and workspace -----------------------------------------------------------

    def list_session_files(self, session_id: str, *, include_hidden: bool | None = None, path: str | None = None) -> Any:
        """The workspace listing: ``{"files": [{path, type, size, modifiedAt}], "source", "truncated"}``."""
        params = _q(includeHidden=include_hidden, path=path)
        return self._run(Req("GET", f"/api/sessions/{seg(session_id)}/files", params=params))

    def get_session_file(self, session_id: str, path: str) -> Any:
        """A workspace file as JSON ``{path, content, encoding(utf8|base64), size, mimeType, source}`` (≤ 1 MiB)."""
        return self._run(
            Req("GET", f"/api/sessions/{seg(session_id)}/files/{file_path(path)}", params={"format": "json"})
        )

    def download_session_file(self, session_id: str, path: str) -> Any:
        """A workspace file's exact bytes."""
        return self._run(Req("GET", f"/api/sessions/{seg(session_id)}/files/{file_path(path)}", parse=_bytes))

    def upload_session_files(
        self,
        session_id: str,
        files: Mapping[str, bytes | str] | list[tuple[str, bytes | str]],
        *,
        target_path: str | None = None,
    ) -> Any:
        """Writes files into the workspace (``{path: bytes}``; str is UTF-8): ``{"files", "source"}``."""
        return self._run(
            Req("POST", f"/api/sessions/{seg(session_id)}/files", json=_files_body(files, target_path))
        )

    def _disk_files_req(self, session_id: str, disk: list[DiskFile], target_path: str | None) -> Req:
        return Req(
            "POST",
            f"/api/sessions/{seg(session_id)}/files",
            stream=json_files_body(disk, target_path),
            headers={"content-type": "application/json"},
        )

    def _workspace_file_req(self, session_id: str, file: DiskFile) -> Req:
        return Req(
            "POST",
            f"/api/sessions/{seg(session_id)}/workspace",
            stream=DiskBody([(file, False)]),
            headers={"content-type": "application/gzip"},
        )

    def delete_session_file(self, session_id: str, path: str) -> Any:
        """Deletes a workspace file or folder. Raises NotFoundError."""
        return self._run(Req("DELETE", f"/api/sessions/{seg(session_id)}/files/{file_path(path)}"))

    def download_workspace(self, session_id: str) -> Any:
        """The workspace as tar.gz bytes."""
        return self._run(Req("GET", f"/api/sessions/{seg(session_id)}/workspace", parse=_bytes))

    def upload_workspace(self, session_id: str, bundle: bytes) -> Any:
        """Restores a tar.gz bundle into the workspace: ``{"restored", "files", "bytes", "source"}``.
        Raises BadRequestError (``invalid_bundle``) for unsafe bundles."""
        return self._run(
            Req(
                "POST",
                f"/api/sessions/{seg(session_id)}/workspace",
                content=bundle,
                headers={"content-type": "application/gzip"},
            )
        )

    def snapshot_workspace(self, session_id: str) -> Any:
        """Stores workspace + transcript in the server's object storage: ``{sessionId, snapshotAt, size}``."""
        return self._run(
            Req("POST", f"/api/sessions/{seg(session_id)}/workspace/snapshot", parse=lambda r: r.json()["snapshot"])
        )

    # -- attachments ----------------------------------------------------------------------------

    def upload_attachment(
        self,
        session_id: str,
        filename: str,
        content: bytes | str,
        *,
        mime_type: str | None = None,
        message_id: str | None = None,
    ) -> Any:
        """Attaches a file to the session (copied to ``attachments/`` in its workspace): :class:`Attachment`.
        Raises PayloadTooLargeError over the server's limit."""
        body = _body(filename=filename, content=b64(content), mimeType=mime_type, messageId=message_id)
        return self._run(
            Req("POST", f"/api/sessions/{seg(session_id)}/attachments", json=body, parse=_one(Attachment, "attachment"))
        )

    def list_attachments(self, session_id: str) -> Any:
        """``list[Attachment]`` of a session."""
        return self._run(
            Req("GET", f"/api/sessions/{seg(session_id)}/attachments", parse=_many(Attachment, "attachments"))
        )

    def download_attachment(self, attachment_id: str) -> Any:
        """A :class:`DownloadedAttachment` (bytes, filename, mime type)."""

        def parse(r: httpx.Response) -> DownloadedAttachment:
            return DownloadedAttachment(
                r.content,
                _disposition_filename(r.headers.get("content-disposition")),
                r.headers.get("content-type", "application/octet-stream"),
            )

        return self._run(Req("GET", f"/api/attachments/{seg(attachment_id)}", parse=parse))

    def delete_attachment(self, attachment_id: str) -> Any:
        """Deletes an attachment. Raises NotFoundError."""
        return self._run(Req("DELETE", f"/api/attachments/{seg(attachment_id)}", parse=lambda r: None))

    # -- credentials ----------------------------------------------------------------------------

    def store_credential(self, type: str, key: str, label: str | None = None) -> Any:
        """Stores a provider key (``anthropic``, ``openai``, ``bedrock``, ``custom``); returns the
        :class:`Credential` (never the key). Raises ServiceUnavailableError without ``ASH_CREDENTIAL_KEY``."""
        body = _body(type=type, key=key, label=label)
        return self._run(Req("POST", "/api/credentials", json=body, parse=_one(Credential, "credential")))

    def list_credentials(self) -> Any:
        """``list[Credential]`` (never their values)."""
        return self._run(Req("GET", "/api/credentials", parse=_many(Credential, "credentials")))

    def get_credential(self, credential_id: str) -> Any:
        """One :class:`Credential`."""
        return self._run(Req("GET", f"/api/credentials/{seg(credential_id)}", parse=_one(Credential, "credential")))

    def update_credential(self, credential_id: str, *, label: Any = _UNSET, active: bool | None = None) -> Any:
        """Relabels (``None`` clears the label) or switches a credential on/off."""
        body: dict[str, Any] = {}
        if label is not _UNSET:
            body["label"] = label
        if active is not None:
            body["active"] = active
        return self._run(
            Req("PATCH", f"/api/credentials/{seg(credential_id)}", json=body, parse=_one(Credential, "credential"))
        )

    def delete_credential(self, credential_id: str) -> Any:
        """Deletes a credential. Raises NotFoundError."""
        return self._run(Req("DELETE", f"/api/credentials/{seg(credential_id)}", parse=lambda r: None))

    # -- API keys -------------------------------------------------------------------------------

    def create_api_key(self, label: str | None = None) -> Any:
        """A new key of your tenant: :class:`CreatedApiKey` (``key`` is shown only here)."""
        return self._run(
            Req("POST", "/api/api-keys", json=_body(label=label), parse=lambda r: CreatedApiKey.from_dict(r.json()))
        )

    def list_api_keys(self) -> Any:
        """``list[ApiKey]`` of your tenant (prefixes, never the keys)."""
        return self._run(Req("GET", "/api/api-keys", parse=_many(ApiKey, "keys")))

    def revoke_api_key(self, key_id: str) -> Any:
        """Revokes a key; the next request with it gets 401."""
        return self._run(Req("DELETE", f"/api/api-keys/{seg(key_id)}", parse=lambda r: None))

    def create_tenant_api_key(self, tenant_id: str, *, label: str | None = None, internal_secret: str | None = None) -> Any:
        """Operators: a key for any tenant (``POST /api/internal/api-keys``, authenticated with the
        server's ``ASH_INTERNAL_SECRET`` instead of an API key)."""
        headers = {"authorization": f"Bearer {internal_secret}" if internal_secret else ""}
        return self._run(
            Req(
                "POST",
                "/api/internal/api-keys",
                json=_body(tenantId=tenant_id, label=label),
                headers=headers,
                parse=lambda r: CreatedApiKey.from_dict(r.json()),
            )
        )

    # -- queue ----------------------------------------------------------------------------------

    def enqueue(
        self,
        agent_name: str,
        prompt: str,
        *,
        session_id: str | None = None,
        priority: int | None = None,
        max_retries: int | None = None,
        run_at: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> Any:
        """Queues a prompt to run in the background (a new session unless ``session_id``): :class:`QueueItem`."""
        body = _body(
            agentName=agent_name,
            prompt=prompt,
            sessionId=session_id,
            priority=priority,
            maxRetries=max_retries,
            runAt=run_at,
            options=options,
        )
        return self._run(Req("POST", "/api/queue", json=body, parse=_one(QueueItem, "item")))

    def list_queue_items(self, *, status: str | None = None, limit: int | None = None, offset: int | None = None) -> Any:
        """Queue items, newest first: ``list[QueueItem]``."""
        params = _q(status=status, limit=limit, offset=offset)
        return self._run(Req("GET", "/api/queue", params=params, parse=_many(QueueItem, "items")))

    def get_queue_item(self, item_id: str) -> Any:
        """One :class:`QueueItem` (with its ``result`` or ``error``)."""
        return self._run(Req("GET", f"/api/queue/{seg(item_id)}", parse=_one(QueueItem, "item")))

    def cancel_queue_item(self, item_id: str) -> Any:
        """Cancels a pending item. Raises ConflictError (``queue_item_not_pending``)."""
        return self._run(Req("DELETE", f"/api/queue/{seg(item_id)}", parse=_one(QueueItem, "item")))

    def get_queue_stats(self) -> Any:
        """Items per status: ``{"pending", "running", "completed", "failed", "cancelled"}``."""
        return self._run(Req("GET", "/api/queue/stats", parse=lambda r: r.json()["stats"]))

    # -- usage ----------------------------------------------------------------------------------

    def list_usage(
        self,
        *,
        session_id: str | None = None,
        agent_name: str | None = None,
        kind: str | None = None,
        from_: str | None = None,
        to: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Any:
        """Usage ledger records, newest first: ``list[UsageRecord]``."""
        params = _q(sessionId=session_id, agentName=agent_name, kind=kind, limit=limit, offset=offset, to=to)
        if from_ is not None:
            params["from"] = from_
        return self._run(Req("GET", "/api/usage", params=params, parse=_many(UsageRecord, "records")))

    def get_usage_stats(
        self,
        *,
        session_id: str | None = None,
        agent_name: str | None = None,
        from_: str | None = None,
        to: str | None = None,
        group_by: str | None = None,
    ) -> Any:
        """Totals (tokens, calls, turns, compute seconds, cost): ``{"stats": {...}, "groups"?: [...]}``."""
        params = _q(sessionId=session_id, agentName=agent_name, to=to, groupBy=group_by)
        if from_ is not None:
            params["from"] = from_
        return self._run(Req("GET", "/api/usage/stats", params=params))

    def get_budget(self) -> Any:
        """Your tenant's budget: ``{"budgetUsd", "spentUsd"}``."""
        return self._run(Req("GET", "/api/usage/budget", parse=lambda r: r.json()["budget"]))

    def set_budget(self, budget_usd: float | None) -> Any:
        """Sets (``None``: removes) your tenant's budget in USD."""
        return self._run(
            Req("PUT", "/api/usage/budget", json={"budgetUsd": budget_usd}, parse=lambda r: r.json()["budget"])
        )

    def get_analytics(self, *, after: str | datetime | None = None, before: str | datetime | None = None) -> Any:
        """Your tenant's figures between ``after`` and ``before`` (ISO-8601 text or datetimes; both
        optional): agents, sessions by status, usage totals, as :class:`Analytics`.
        Raises BadRequestError (a malformed timestamp)."""
        params = _q(after=_iso(after), before=_iso(before))
        return self._run(Req("GET", "/api/analytics", params=params, parse=lambda r: Analytics.from_dict(r.json())))

    # -- upstream and TypeScript-SDK names -------------------------------------------------------

    def list_session_events(self, session_id: str, **kw: Any) -> Any:
        """Same as :meth:`list_events` (the TypeScript SDK's name)."""
        return self.list_events(session_id, **kw)

    def download_session_file_raw(self, session_id: str, path: str) -> Any:
        """Same as :meth:`download_session_file` (upstream name)."""
        return self.download_session_file(session_id, path)

    def get_session_files(self, session_id: str, **kw: Any) -> Any:
        """Same as :meth:`list_session_files` (upstream name)."""
        return self.list_session_files(session_id, **kw)

    def list_usage_events(self, **kw: Any) -> Any:
        """Same as :meth:`list_usage` (upstream name)."""
        return self.list_usage(**kw)

    def create_credential(self, type: str, key: str, label: str | None = None) -> Any:
        """Same as :meth:`store_credential`."""
        return self.store_credential(type, key, label)

    def interrupt(self, session_id: str) -> Any:
        """Same as :meth:`interrupt_session`."""
        return self.interrupt_session(session_id)
