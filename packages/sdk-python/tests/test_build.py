"""The package builds (``python -m build``) and its wheel installs and works in a fresh virtualenv."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent


def test_wheel_builds_installs_and_talks_to_the_server(tmp_path: Path, ash_server) -> None:
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(PACKAGE)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheels = list(out.glob("ash_ai_sdk-*-py3-none-any.whl"))
    assert len(wheels) == 1 and list(out.glob("ash_ai_sdk-*.tar.gz"))
    names = zipfile.ZipFile(wheels[0]).namelist()
    for f in ("ash_sdk/__init__.py", "ash_sdk/client.py", "ash_sdk/streaming.py", "ash_sdk/errors.py", "ash_sdk/py.typed"):
        assert f in names, names
    assert not any("tests/" in n for n in names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheels[0])], check=True, timeout=600)
    script = (
        "import sys, ash_sdk\n"
        "from ash_sdk import AshClient\n"
        "from ash_sdk.streaming import DoneEvent, TextDeltaEvent\n"
        "assert 'site-packages' in ash_sdk.__file__, ash_sdk.__file__\n"
        "c = AshClient(sys.argv[1], token=sys.argv[2])\n"
        "print(c.health()['status'], len(c.list_agents()) >= 0)\n"
    )
    run = subprocess.run(
        [str(py), "-c", script, ash_server.url, ash_server.api_key], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok True"


def test_the_package_type_checks_strictly() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(PACKAGE / "src" / "ash_sdk")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
