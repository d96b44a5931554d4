"""The Python quickstarts of the READMEs run as written against a real server (URL and key
substituted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def _blocks(readme: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("readme", [REPO / "README.md", HERE.parent / "README.md"], ids=["root", "package"])
def test_python_quickstart_blocks_run(readme: Path, ash_server) -> None:
    blocks = _blocks(readme)
    assert len(blocks) >= 2, "a sync and an async example"
    for code in blocks:
        code = code.replace("http://localhost:4100", ash_server.url).replace('"ash_..."', repr(ash_server.api_key))
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=180)
        assert run.returncode == 0, f"{code}\n---\n{run.stderr}"
        assert "Echo: Hello" in run.stdout, run.stdout
