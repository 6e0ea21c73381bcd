"""Shared fixtures for Postern's integration tests.

Fixtures:
  postern_build  Path of the build directory: $POSTERN_BUILD (absolute,
                 set by `make integration`/`make asan`), else <repo>/build.
  bin_path       Function: bin_path("postconf") -> Path of a built program
                 (fails the test when it was not built).
  run            Function that runs a command and captures its output:
                     r = run(["postconf", "-d"], env={...}, input="...")
                 A bare program name is looked up in $POSTERN_BUILD/bin.
                 Returns subprocess.CompletedProcess with text stdout and
                 stderr. The environment is the test's own: MAIL_CONFIG is
                 removed unless given in env, so the host's settings never
                 leak in. Keyword arguments: env (dict merged over it),
                 input (text for stdin), timeout (seconds, default 30),
                 cwd, expect (an exit status to assert, with the output in
                 the failure message).
  config_dir     A fresh, empty configuration directory (a Path) under the
                 test's tmp_path. Write main.cf / master.cf into it with
                 write_file or Path.write_text.
  write_file     Function: write_file(path, text) writes text exactly
                 (no newline added) and returns the Path.

No fixture uses fixed ports, real DNS or the host's /etc/postern.
"""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postern_build():
    """The build directory holding bin/ and the test binaries."""
    build = os.environ.get("POSTERN_BUILD")
    path = Path(build) if build else REPO / "build"
    if not path.is_absolute():
        path = (REPO / path).resolve()
    return path


@pytest.fixture(scope="session")
def bin_path(postern_build):
    """Return a function mapping a program name to its built binary."""

    def find(name):
        path = postern_build / "bin" / name
        if not path.is_file():
            pytest.fail(f"{path} is not built (run make with BUILD={postern_build})")
        return path

    return find


@pytest.fixture
def run(bin_path):
    """Return a function that runs a command and captures its output."""

    def run_cmd(cmd, env=None, input=None, timeout=30, cwd=None, expect=None):
        cmd = [str(c) for c in cmd]
        if "/" not in cmd[0]:
            cmd[0] = str(bin_path(cmd[0]))
        full_env = dict(os.environ)
        full_env.pop("MAIL_CONFIG", None)
        if env:
            full_env.update({k: str(v) for k, v in env.items()})
        result = subprocess.run(
            cmd,
            env=full_env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            errors="surrogateescape",
        )
        if expect is not None and result.returncode != expect:
            pytest.fail(
                f"{' '.join(cmd)}: exit {result.returncode}, expected {expect}\n"
                f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
            )
        return result

    return run_cmd


@pytest.fixture
def config_dir(tmp_path):
    """A fresh, empty configuration directory."""
    path = tmp_path / "etc"
    path.mkdir()
    return path


@pytest.fixture
def write_file():
    """Return a function that writes a text file exactly as given."""

    def write(path, text):
        path = Path(path)
        path.write_text(text)
        return path

    return write
