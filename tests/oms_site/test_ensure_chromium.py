"""`make test` installs the browser the e2e tests drive (scripts/ensure_chromium.sh).

The script runs with a fake PATH: `id` and `apt-get` are stubs that log their calls, and
OMS_CHROMIUM points at a path of this test, so nothing is installed on this machine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ensure_chromium.sh"


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _run(tmp_path: Path, *, uid: int, apt_installs: bool = True, chromium_exists: bool = False):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    chromium = tmp_path / "usr-bin-chromium"
    log = tmp_path / "calls.log"
    if chromium_exists:
        chromium.write_text("#!/bin/sh\n")
        chromium.chmod(0o755)
    _stub(bin_dir, "id", f"echo {uid}")
    install = f"printf '#!/bin/sh\\n' > {chromium}; chmod +x {chromium}" if apt_installs else ":"
    _stub(
        bin_dir,
        "apt-get",
        f'echo "apt-get $*" >> {log}\ncase "$*" in *install*) {install};; esac',
    )
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "OMS_CHROMIUM": str(chromium)}
    # /usr/bin may hold a real apt-get and id: the stubs come first on PATH.
    result = subprocess.run(
        ["/bin/sh", str(SCRIPT)], env=env, capture_output=True, text=True, check=False
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


def test_present_chromium_installs_nothing(tmp_path):
    # given chromium is already there, when the script runs as root
    result, calls = _run(tmp_path, uid=0, chromium_exists=True)
    # then it succeeds without touching apt (no slow apt-get update)
    assert result.returncode == 0, result.stderr
    assert calls == []


def test_missing_chromium_as_root_is_installed_from_debian(tmp_path):
    # given no chromium, as root with apt-get
    result, calls = _run(tmp_path, uid=0)
    # then Debian's chromium package is installed, after an update
    assert result.returncode == 0, result.stderr
    assert calls == ["apt-get update -qq", "apt-get install -y -qq chromium"]
    assert "installing Debian's chromium" in result.stdout


def test_missing_chromium_without_root_says_what_to_install(tmp_path):
    # given no chromium and no root
    result, calls = _run(tmp_path, uid=1000)
    # then it fails with a message naming the package, and installs nothing
    assert result.returncode != 0
    assert "apt-get install chromium" in result.stderr
    assert calls == []


def test_apt_that_leaves_no_chromium_fails(tmp_path):
    result, _ = _run(tmp_path, uid=0, apt_installs=False)
    assert result.returncode != 0
    assert "still missing" in result.stderr


def test_make_test_ensures_chromium_before_running_the_suite():
    # `make -n` prints the recipe without running it
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    result = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    ensure = next(i for i, line in enumerate(lines) if "ensure_chromium.sh" in line)
    suite = next(i for i, line in enumerate(lines) if "run_tests.py" in line)
    assert ensure < suite
    assert "playwright install" not in result.stdout
