"""scripts/install_system_deps.sh: installs only what is missing (PostgreSQL, Prometheus), with
sudo only when not root; a no-op when everything is there. apt-get is a stub here, and PATH holds
only a few real tools, so the test does not depend on what this machine has installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "scripts" / "install_system_deps.sh"
TOOLS = ("bash", "sh", "ls", "sort", "id", "env", "head", "mkdir", "chmod", "cat")


def test_install_system_deps_is_a_no_op_here():
    result = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "already installed" in result.stdout


def _stub(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def _machine(tmp_path: Path, *, as_root: bool, have_postgres: bool, have_prometheus: bool,
             have_espeak: bool = True) -> tuple[dict, Path, Path]:
    stubs, system, pg, log = tmp_path / "stubs", tmp_path / "system", tmp_path / "pg", tmp_path / "calls.log"
    for d in (stubs, system, pg):
        d.mkdir()
    for tool in TOOLS:
        (system / tool).symlink_to(shutil.which(tool))
    fake_pg = f"mkdir -p {pg}/15/bin && for b in initdb pg_ctl; do printf '#!/bin/sh\\n' > {pg}/15/bin/$b; " \
              f"chmod +x {pg}/15/bin/$b; done"
    fake_prom = f"for b in prometheus promtool; do printf '#!/bin/sh\\necho \"$b, version 2.42.0\"\\n' > " \
                f"{system}/$b; chmod +x {system}/$b; done"
    fake_espeak = f"printf '#!/bin/sh\\n' > {system}/espeak-ng; chmod +x {system}/espeak-ng"
    # apt-get records its arguments and, on install, "installs" the packages it was given.
    _stub(stubs / "apt-get", f"""echo "apt-get $* DEBIAN_FRONTEND=$DEBIAN_FRONTEND" >> {log}
case "$*" in *install*postgresql*) {fake_pg};; esac
case "$*" in *install*prometheus*) {fake_prom};; esac
case "$*" in *install*espeak-ng*) {fake_espeak};; esac
""")
    if have_postgres:
        subprocess.run(["sh", "-c", fake_pg], check=True)
    if have_prometheus:
        subprocess.run(["sh", "-c", fake_prom.replace("$b", "${b}")], check=True)
    if have_espeak:
        subprocess.run(["sh", "-c", fake_espeak], check=True)
    if not as_root:
        _stub(stubs / "id", 'echo 1000\n')
        _stub(stubs / "sudo", f'echo "sudo $*" >> {log}\nexec "$@"\n')
    env = {"PATH": f"{stubs}:{system}", "PG_BINDIR_GLOB": f"{pg}/*/bin", "HOME": str(tmp_path)}
    return env, log, pg


@pytest.mark.parametrize("as_root", [True, False])
@pytest.mark.parametrize("have_postgres, have_prometheus, have_espeak, packages", [
    (False, False, False, "postgresql prometheus espeak-ng"),
    (True, False, True, "prometheus"),
    (False, True, True, "postgresql"),
    (True, True, False, "espeak-ng"),
])
def test_install_system_deps_installs_what_is_missing(tmp_path, as_root, have_postgres, have_prometheus, have_espeak,
                                                      packages):
    env, log, pg = _machine(tmp_path, as_root=as_root, have_postgres=have_postgres, have_prometheus=have_prometheus,
                            have_espeak=have_espeak)
    result = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = log.read_text().splitlines()
    apt = [c for c in calls if c.startswith("apt-get")]
    assert apt == ["apt-get update -q DEBIAN_FRONTEND=noninteractive",
                   f"apt-get install -y -q --no-install-recommends {packages} DEBIAN_FRONTEND=noninteractive"]
    assert any(c.startswith("sudo ") for c in calls) == (not as_root)
    assert f"PostgreSQL ({pg}/15/bin/initdb)" in result.stdout and "ready" in result.stdout
    # Second run: everything found, nothing installed.
    again = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 0 and "already installed" in again.stdout, again.stdout + again.stderr
    assert len(log.read_text().splitlines()) == len(calls)


def test_install_system_deps_without_apt_get_says_what_to_install(tmp_path):
    env, log, _ = _machine(tmp_path, as_root=True, have_postgres=True, have_prometheus=False)
    (tmp_path / "stubs" / "apt-get").unlink()
    result = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "prometheus not found and apt-get is not available" in result.stderr
