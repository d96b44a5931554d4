"""The sync and async clients."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx

from ._api import Api, Req, _send_body, seg
from ._upload import check_bundle_limit, check_file_limits, stat_disk_files
from .errors import AshApiError, AshConnectionError, AshTimeoutError, api_error_from_response
from .models import Message, Session, SessionEvent
from .streaming import AshEvent, DoneEvent, SessionStartEvent, aiter_sse_events, iter_sse_events

__version__ = "0.1.0"

DEFAULT_BASE_URL = "http://localhost:4100"
_IDEMPOTENT = {"GET", "HEAD", "PUT", "OPTIONS"}
_RETRY_STATUS = {429, 502, 503, 504}


def _backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): ``Retry-After`` when given (capped at
    30 s), else 0.25 s doubling up to 4 s, with jitter."""
    if retry_after is not None:
        return min(retry_after, 30.0)
    return float(min(4.0, 0.25 * 2**attempt)) * (0.5 + random.random() / 2)


def _retry_after(r: httpx.Response) -> float | None:
    try:
        v = r.headers.get("retry-after")
        return float(v) if v is not None else None
    except ValueError:
        return None


class _Follow:
    """State of one followed stream: the last delivered id and the turn whose ``done`` ends it."""

    def __init__(self, after: int, until: str | None) -> None:
        self.last = after
        # "first": a sent message (its own turn, learnt from session_start); a turn id; or
        # None: history only (the stream simply ends).
        self.until = until
        self.turn: str | None = None if until == "first" else until
        self.finished = False

    def learn_turn(self, r: httpx.Response) -> None:
        """After a drop before ``session_start``: the running turn a rejoin reports is ours."""
        turn = r.headers.get("x-ash-turn")
        if self.until == "first" and self.turn is None and turn and turn != "none":
            self.turn = turn

    def accept(self, ev: AshEvent) -> bool:
        """Whether to yield ``ev`` (False for an event already delivered before a reconnect)."""
        eid = ev.event_id
        if eid is not None and eid <= self.last:
            return False
        if eid is not None:
            self.last = eid
        if isinstance(ev, SessionStartEvent) and self.until == "first" and self.turn is None:
            self.turn = ev.turn_id
        if isinstance(ev, DoneEvent) and self.until is not None:
            if self.turn is None or ev.turn_id is None or ev.turn_id == self.turn:
                self.finished = True
        return True


class _Common:
    def _setup(
        self,
        base_url: str | None,
        token: str | None,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        headers: dict[str, str] | None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("ASH_SERVER_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.token = token if token is not None else api_key if api_key is not None else os.environ.get("ASH_API_KEY")
        self.timeout = timeout
        self.max_retries = max_retries
        self._headers = {"user-agent": f"ash-ai-sdk-python/{__version__}", **(headers or {})}
        if self.token:
            self._headers["authorization"] = f"Bearer {self.token}"

    @property
    def api_key(self) -> str | None:
        return self.token

    def _build(self, http: httpx.Client | httpx.AsyncClient, req: Req, **extra: Any) -> httpx.Request:
        headers = {"accept": "application/json", **req.headers}
        drop_auth = headers.get("authorization") == ""  # an empty value means: send no key
        if drop_auth:
            headers.pop("authorization")
        if req.timeout is not None and "timeout" not in extra:
            extra["timeout"] = httpx.Timeout(max(req.timeout, self.timeout))
        r = http.build_request(
            req.method, req.path, params=req.params, json=req.json, content=req.content, headers=headers, **extra
        )
        if drop_auth:
            r.headers.pop("authorization", None)
        if req.stream is not None:
            r.stream = req.stream
            r.headers.pop("transfer-encoding", None)
            r.headers["content-length"] = str(req.stream.length)
        return r

    def _stream_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, read=None)


class AshClient(Api, _Common):
    """Synchronous client of the Ash API.

    Args:
        base_url: the server, e.g. ``http://localhost:4100`` (default ``ASH_SERVER_URL``, else that).
        token: the API key, sent as ``Authorization: Bearer`` (default ``ASH_API_KEY``). ``api_key=``
            is accepted too.
        timeout: seconds for a request (streams have no read timeout), default 300.
        max_retries: retries of idempotent requests (GET, PUT) after a connection error or a
            429/502/503/504 answer, with exponential backoff honouring ``Retry-After``. Default 2.
        headers: headers added to every request.
        http_client: an ``httpx.Client`` to use instead of the client's own.

    Use as a context manager (or call :meth:`close`) to release connections.

    Example::

        with AshClient("http://localhost:4100", token=key) as ash:
            session = ash.create_session("hello")
            for ev in ash.send_message_stream(session.id, "Hi"):
                if isinstance(ev, TextDeltaEvent):
                    print(ev.delta, end="")
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 300.0,
        max_retries: int = 2,
        headers: dict[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._setup(base_url, token, api_key, timeout, max_retries, headers)
        self._http = http_client or httpx.Client(timeout=timeout)
        self._http.base_url = httpx.URL(self.base_url)
        self._http.headers.update(self._headers)

    def __enter__(self) -> AshClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection pool."""
        self._http.close()

    def _run(self, req: Req) -> Any:
        attempt = 0
        while True:
            try:
                r = self._http.send(self._build(self._http, req))
            except httpx.TimeoutException as e:
                if req.method in _IDEMPOTENT and attempt < self.max_retries:
                    time.sleep(_backoff(attempt, None))
                    attempt += 1
                    continue
                raise AshTimeoutError(f"{req.method} {req.path} timed out after {self.timeout} s") from e
            except httpx.TransportError as e:
                if req.method in _IDEMPOTENT and attempt < self.max_retries:
                    time.sleep(_backoff(attempt, None))
                    attempt += 1
                    continue
                raise AshConnectionError(f"cannot reach the Ash server at {self.base_url}: {e}") from e
            if r.status_code >= 400:
                if req.method in _IDEMPOTENT and r.status_code in _RETRY_STATUS and attempt < self.max_retries:
                    time.sleep(_backoff(attempt, _retry_after(r)))
                    attempt += 1
                    continue
                raise api_error_from_response(r)
            return req.parse(r)

    # -- streams --------------------------------------------------------------------------------

    def _open(self, req: Req) -> httpx.Response:
        try:
            r = self._http.send(self._build(self._http, req, timeout=self._stream_timeout()), stream=True)
        except httpx.TransportError as e:
            raise AshConnectionError(f"cannot reach the Ash server at {self.base_url}: {e}") from e
        if r.status_code >= 400:
            r.read()
            r.close()
            raise api_error_from_response(r)
        return r

    def _open_rejoin(self, session_id: str, after: int) -> httpx.Response:
        return self._open(
            Req(
                "GET",
                f"/api/sessions/{seg(session_id)}/stream",
                headers={"accept": "text/event-stream", "last-event-id": str(after)},
            )
        )

    def _follow(self, session_id: str, first: httpx.Response, st: _Follow, max_reconnects: int) -> Iterator[AshEvent]:
        r: httpx.Response | None = first
        attempt = 0
        while True:
            try:
                assert r is not None
                try:
                    for ev in iter_sse_events(r.iter_lines()):
                        if st.accept(ev):
                            yield ev
                        if st.finished:
                            return
                finally:
                    r.close()
                if st.until is None:
                    return
            except httpx.TransportError:
                pass  # the connection dropped: rejoin below
            if attempt >= max_reconnects:
                raise AshConnectionError(f"the stream of session {session_id} ended before its done event")
            time.sleep(min(2.0, 0.1 * 2**attempt))
            attempt += 1
            try:
                r = self._open_rejoin(session_id, st.last)
                st.learn_turn(r)
            except AshConnectionError:
                r = None
                if attempt >= max_reconnects:
                    raise
                continue

    def send_message_stream(
        self,
        session_id: str,
        content: str | list[dict[str, Any]],
        *,
        include_partial_messages: bool = False,
        model: str | None = None,
        max_turns: int | None = None,
        max_budget_usd: float | None = None,
        effort: str | None = None,
        thinking: dict[str, Any] | None = None,
        output_format: dict[str, Any] | None = None,
        on_busy: str | None = None,
        max_reconnects: int = 5,
    ) -> Iterator[AshEvent]:
        """Sends a message and yields the turn's typed events, ``SessionStartEvent`` … ``DoneEvent``.

        ``content`` is text or a list of content blocks (text, image, document). When the
        connection drops before ``done``, the stream is rejoined (``Last-Event-ID``) up to
        ``max_reconnects`` times; every event is yielded exactly once. Errors before the stream
        raise (e.g. SessionBusyError, SessionEndedError); errors during the turn arrive as an
        ``ErrorEvent`` followed by ``DoneEvent``.
        """
        body = _send_body(
            content,
            include_partial_messages=include_partial_messages,
            model=model,
            max_turns=max_turns,
            max_budget_usd=max_budget_usd,
            effort=effort,
            thinking=thinking,
            output_format=output_format,
            on_busy=on_busy,
        )
        first = self._open(
            Req("POST", f"/api/sessions/{seg(session_id)}/messages", json=body, headers={"accept": "text/event-stream"})
        )
        yield from self._follow(session_id, first, _Follow(0, "first"), max_reconnects)

    def send_message(self, session_id: str, content: str | list[dict[str, Any]], **kw: Any) -> list[AshEvent]:
        """Sends a message and returns all events of the turn once it is done."""
        return list(self.send_message_stream(session_id, content, **kw))

    def stream_session(self, session_id: str, *, after: int = 0, max_reconnects: int = 5) -> Iterator[AshEvent]:
        """Rejoins a session's stream: every event with id > ``after``, then the live rest of the
        running turn, ending after its ``DoneEvent`` (or at the end of history when no turn runs).
        Reconnects transparently (``Last-Event-ID``) after a dropped connection; never yields an
        event twice."""
        first = self._open_rejoin(session_id, after)
        turn = first.headers.get("x-ash-turn")
        st = _Follow(after, turn if turn and turn != "none" else None)
        yield from self._follow(session_id, first, st, max_reconnects)

    # -- uploads streamed from disk -------------------------------------------------------------

    def upload_session_files_from_disk(
        self,
        session_id: str,
        files: Mapping[str, str | os.PathLike[str]] | list[tuple[str, str | os.PathLike[str]]],
        *,
        target_path: str | None = None,
        limits: Mapping[str, Any] | None = None,
    ) -> Any:
        """Uploads local files into the workspace (``{workspace path: local path}``), streamed: each
        file is read in chunks while it is sent, so memory stays small whatever the size. The
        server's limits (``limits``, else ``GET /health`` ``uploadLimits``) are checked first, so an
        oversized upload is refused before any byte is sent. Returns ``{"files", "source"}``.

        Raises:
            AshLocalError: ``payload_too_large`` (nothing sent), ``local_io_error``.
            The same API errors as :meth:`upload_session_files`.
        """
        disk = stat_disk_files(files)
        check_file_limits(disk, limits if limits is not None else self.health().get("uploadLimits"))
        return self._run(self._disk_files_req(session_id, disk, target_path))

    def upload_workspace_file(
        self, session_id: str, local_path: str | os.PathLike[str], *, limits: Mapping[str, Any] | None = None
    ) -> Any:
        """Restores a tar.gz bundle from local disk into the workspace, streamed (never read whole
        into memory); the server's ``bundleBytes`` limit is checked first. Returns
        ``{"restored", "files", "bytes", "source"}``.

        Raises:
            AshLocalError: ``payload_too_large`` (nothing sent), ``local_io_error``.
            BadRequestError: ``invalid_bundle`` (as :meth:`upload_workspace`).
        """
        [file] = stat_disk_files([("bundle", local_path)])
        check_bundle_limit(file, limits if limits is not None else self.health().get("uploadLimits"))
        return self._run(self._workspace_file_req(session_id, file))

    # -- cursor iteration -----------------------------------------------------------------------

    def iter_messages(self, session_id: str, *, after: int = 0, page_size: int = 100) -> Iterator[Message]:
        """Every message with ``sequence > after``, fetching pages of ``page_size`` as needed."""
        while True:
            page = self.list_messages_page(session_id, after=after, limit=page_size)
            yield from page.items
            if not page.has_more or not page.items:
                return
            after = page.items[-1].sequence

    def iter_events(
        self, session_id: str, *, after: int = 0, page_size: int = 200, type: str | None = None
    ) -> Iterator[SessionEvent]:
        """Every persisted event with ``sequence > after`` (optionally of one ``type``)."""
        while True:
            page = self.list_events_page(session_id, after=after, limit=page_size, type=type)
            yield from page.items
            if not page.has_more or not page.items:
                return
            after = page.items[-1].sequence

    def iter_sessions(self, agent: str | None = None, *, status: str | None = None, page_size: int = 100) -> Iterator[Session]:
        """Every session, newest first, across pages."""
        offset = 0
        while True:
            r = self._run(Req("GET", "/api/sessions", params={k: v for k, v in {"agent": agent, "status": status, "limit": page_size, "offset": offset}.items() if v is not None}))
            items = [Session.from_dict(s) for s in r["sessions"]]
            yield from items
            if not r.get("hasMore") or not items:
                return
            offset += len(items)

    def wait_for_queue_item(self, item_id: str, *, interval: float = 0.5, timeout: float = 600.0) -> Any:
        """Polls a queue item until ``completed``, ``failed`` or ``cancelled`` (or ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.get_queue_item(item_id)
            if item.status in ("completed", "failed", "cancelled") or time.monotonic() >= deadline:
                return item
            time.sleep(interval)


class AsyncAshClient(Api, _Common):
    """Asynchronous client of the Ash API: the same methods as :class:`AshClient`, as coroutines;
    streams are async iterators (``asend_message_stream``, ``astream_session``, ``aiter_messages``…).

    Example::

        async with AsyncAshClient("http://localhost:4100", token=key) as ash:
            session = await ash.create_session("hello")
            async for ev in ash.asend_message_stream(session.id, "Hi"):
                print(ev)
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 300.0,
        max_retries: int = 2,
        headers: dict[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._setup(base_url, token, api_key, timeout, max_retries, headers)
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._http.base_url = httpx.URL(self.base_url)
        self._http.headers.update(self._headers)

    async def __aenter__(self) -> AsyncAshClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()

    async def _run(self, req: Req) -> Any:
        attempt = 0
        while True:
            try:
                r = await self._http.send(self._build(self._http, req))
            except httpx.TimeoutException as e:
                if req.method in _IDEMPOTENT and attempt < self.max_retries:
                    await asyncio.sleep(_backoff(attempt, None))
                    attempt += 1
                    continue
                raise AshTimeoutError(f"{req.method} {req.path} timed out after {self.timeout} s") from e
            except httpx.TransportError as e:
                if req.method in _IDEMPOTENT and attempt < self.max_retries:
                    await asyncio.sleep(_backoff(attempt, None))
                    attempt += 1
                    continue
                raise AshConnectionError(f"cannot reach the Ash server at {self.base_url}: {e}") from e
            if r.status_code >= 400:
                if req.method in _IDEMPOTENT and r.status_code in _RETRY_STATUS and attempt < self.max_retries:
                    await asyncio.sleep(_backoff(attempt, _retry_after(r)))
                    attempt += 1
                    continue
                raise api_error_from_response(r)
            return req.parse(r)

    async def _open(self, req: Req) -> httpx.Response:
        try:
            r = await self._http.send(self._build(self._http, req, timeout=self._stream_timeout()), stream=True)
        except httpx.TransportError as e:
            raise AshConnectionError(f"cannot reach the Ash server at {self.base_url}: {e}") from e
        if r.status_code >= 400:
            await r.aread()
            await r.aclose()
            raise api_error_from_response(r)
        return r

    async def _open_rejoin(self, session_id: str, after: int) -> httpx.Response:
        return await self._open(
            Req(
                "GET",
                f"/api/sessions/{seg(session_id)}/stream",
                headers={"accept": "text/event-stream", "last-event-id": str(after)},
            )
        )

    async def _follow(
        self, session_id: str, first: httpx.Response, st: _Follow, max_reconnects: int
    ) -> AsyncIterator[AshEvent]:
        r: httpx.Response | None = first
        attempt = 0
        while True:
            try:
                assert r is not None
                try:
                    async for ev in aiter_sse_events(r.aiter_lines()):
                        if st.accept(ev):
                            yield ev
                        if st.finished:
                            return
                finally:
                    await r.aclose()
                if st.until is None:
                    return
            except httpx.TransportError:
                pass
            if attempt >= max_reconnects:
                raise AshConnectionError(f"the stream of session {session_id} ended before its done event")
            await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
            attempt += 1
            try:
                r = await self._open_rejoin(session_id, st.last)
                st.learn_turn(r)
            except AshConnectionError:
                r = None
                if attempt >= max_reconnects:
                    raise
                continue

    async def asend_message_stream(
        self,
        session_id: str,
        content: str | list[dict[str, Any]],
        *,
        include_partial_messages: bool = False,
        model: str | None = None,
        max_turns: int | None = None,
        max_budget_usd: float | None = None,
        effort: str | None = None,
        thinking: dict[str, Any] | None = None,
        output_format: dict[str, Any] | None = None,
        on_busy: str | None = None,
        max_reconnects: int = 5,
    ) -> AsyncIterator[AshEvent]:
        """Async form of :meth:`AshClient.send_message_stream`."""
        body = _send_body(
            content,
            include_partial_messages=include_partial_messages,
            model=model,
            max_turns=max_turns,
            max_budget_usd=max_budget_usd,
            effort=effort,
            thinking=thinking,
            output_format=output_format,
            on_busy=on_busy,
        )
        first = await self._open(
            Req("POST", f"/api/sessions/{seg(session_id)}/messages", json=body, headers={"accept": "text/event-stream"})
        )
        async for ev in self._follow(session_id, first, _Follow(0, "first"), max_reconnects):
            yield ev

    # The sync client's name works here too (upstream code calls ``send_message_stream`` on both).
    send_message_stream = asend_message_stream

    async def send_message(self, session_id: str, content: str | list[dict[str, Any]], **kw: Any) -> list[AshEvent]:
        """Sends a message and returns all events of the turn once it is done."""
        return [ev async for ev in self.asend_message_stream(session_id, content, **kw)]

    async def astream_session(self, session_id: str, *, after: int = 0, max_reconnects: int = 5) -> AsyncIterator[AshEvent]:
        """Async form of :meth:`AshClient.stream_session`."""
        first = await self._open_rejoin(session_id, after)
        turn = first.headers.get("x-ash-turn")
        st = _Follow(after, turn if turn and turn != "none" else None)
        async for ev in self._follow(session_id, first, st, max_reconnects):
            yield ev

    stream_session = astream_session

    async def upload_session_files_from_disk(
        self,
        session_id: str,
        files: Mapping[str, str | os.PathLike[str]] | list[tuple[str, str | os.PathLike[str]]],
        *,
        target_path: str | None = None,
        limits: Mapping[str, Any] | None = None,
    ) -> Any:
        """Async form of :meth:`AshClient.upload_session_files_from_disk` (streamed from disk)."""
        disk = stat_disk_files(files)
        check_file_limits(disk, limits if limits is not None else (await self.health()).get("uploadLimits"))
        return await self._run(self._disk_files_req(session_id, disk, target_path))

    async def upload_workspace_file(
        self, session_id: str, local_path: str | os.PathLike[str], *, limits: Mapping[str, Any] | None = None
    ) -> Any:
        """Async form of :meth:`AshClient.upload_workspace_file` (streamed from disk)."""
        [file] = stat_disk_files([("bundle", local_path)])
        check_bundle_limit(file, limits if limits is not None else (await self.health()).get("uploadLimits"))
        return await self._run(self._workspace_file_req(session_id, file))

    async def aiter_messages(self, session_id: str, *, after: int = 0, page_size: int = 100) -> AsyncIterator[Message]:
        """Every message with ``sequence > after``, across pages."""
        while True:
            page = await self.list_messages_page(session_id, after=after, limit=page_size)
            for m in page.items:
                yield m
            if not page.has_more or not page.items:
                return
            after = page.items[-1].sequence

    iter_messages = aiter_messages

    async def aiter_events(
        self, session_id: str, *, after: int = 0, page_size: int = 200, type: str | None = None
    ) -> AsyncIterator[SessionEvent]:
        """Every persisted event with ``sequence > after``, across pages."""
        while True:
            page = await self.list_events_page(session_id, after=after, limit=page_size, type=type)
            for e in page.items:
                yield e
            if not page.has_more or not page.items:
                return
            after = page.items[-1].sequence

    iter_events = aiter_events

    async def wait_for_queue_item(self, item_id: str, *, interval: float = 0.5, timeout: float = 600.0) -> Any:
        """Polls a queue item until ``completed``, ``failed`` or ``cancelled`` (or ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            item = await self.get_queue_item(item_id)
            if item.status in ("completed", "failed", "cancelled") or time.monotonic() >= deadline:
                return item
            await asyncio.sleep(interval)


__all__ = ["AshApiError", "AshClient", "AsyncAshClient", "DEFAULT_BASE_URL"]
