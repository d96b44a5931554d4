"""Fixtures: a real Ash server process (scripted model) and a TCP proxy that can cut streams."""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]


@dataclass
class AshServer:
    url: str
    api_key: str
    control: str
    repo_root: str
    internal_secret: str
    proc: subprocess.Popen[str]

    def enqueue(self, *replies: dict, session_id: str | None = None) -> None:
        """Scripts the model's next replies (for one session, or globally)."""
        body: dict = {"replies": list(replies)}
        if session_id:
            body["sessionId"] = session_id
        httpx.post(f"{self.control}/enqueue", json=body, timeout=10).raise_for_status()

    def model_requests(self) -> list[dict]:
        return httpx.get(f"{self.control}/requests", timeout=10).json()


def _start_server(env_extra: dict[str, str] | None = None) -> AshServer:
    node = shutil.which("node") or "node"
    proc = subprocess.Popen(
        [node, str(HERE / "server_launcher.mjs"), json.dumps({"env": env_extra or {}})],
        cwd=str(REPO_ROOT),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        raise RuntimeError(f"the server launcher did not start: {proc.stderr.read() if proc.stderr else ''}")
    info = json.loads(line)
    return AshServer(info["url"], info["apiKey"], info["control"], info["repoRoot"], info["internalSecret"], proc)


def _stop_server(server: AshServer) -> None:
    assert server.proc.stdin is not None
    server.proc.stdin.close()  # the launcher stops the server and the model when its stdin closes
    try:
        server.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture(scope="session")
def ash_server() -> Iterator[AshServer]:
    server = _start_server()
    yield server
    _stop_server(server)


@pytest.fixture(scope="session")
def hello_dir() -> str:
    return str(REPO_ROOT / "examples" / "hello")


@pytest.fixture()
def agent_name(ash_server: AshServer, hello_dir: str) -> str:
    """A freshly deployed agent (uploaded from examples/hello)."""
    from ash_sdk import AshClient

    name = f"py-{uuid.uuid4().hex[:8]}"
    with AshClient(ash_server.url, token=ash_server.api_key) as c:
        c.deploy_agent(name, hello_dir)
    return name


@pytest.fixture()
def client(ash_server: AshServer) -> Iterator["object"]:
    from ash_sdk import AshClient

    with AshClient(ash_server.url, token=ash_server.api_key, timeout=120) as c:
        yield c


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


class CuttingProxy:
    """A TCP proxy in front of the server. ``cut_on(marker)`` arms it: the first connection whose
    server-to-client bytes contain ``marker`` is closed right after forwarding them (a connection
    dropped mid-stream); later connections pass through untouched."""

    def __init__(self, target_url: str) -> None:
        u = httpx.URL(target_url)
        self.target = (u.host, u.port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.marker: bytes | None = None
        self.cuts = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_on(self, marker: bytes) -> None:
        with self._lock:
            self.marker = marker

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        socks = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(socks, [], [], 60)
                if not readable:
                    return
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    if s is client:
                        upstream.sendall(data)
                        continue
                    client.sendall(data)
                    with self._lock:
                        hit = self.marker is not None and self.marker in data
                        if hit:
                            self.marker = None
                            self.cuts += 1
                    if hit:
                        return  # drop the connection right after the marker
        except OSError:
            return
        finally:
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._closed = True
        self.sock.close()


@pytest.fixture()
def proxy(ash_server: AshServer) -> Iterator[CuttingProxy]:
    p = CuttingProxy(ash_server.url)
    yield p
    p.close()


def pytest_sessionstart(session: pytest.Session) -> None:
    os.environ.pop("ASH_API_KEY", None)
    os.environ.pop("ASH_SERVER_URL", None)
