"""`scripts/odoo_source.sh`, the set-up's Odoo-source step, against local git repositories standing in for
Odoo's public one (this machine reaches no git host)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "odoo_source.sh"
RELEASE = "version_info = ({major}, 0, 0, FINAL, 0, '')\n"


def git(*args: str, cwd: Path, date: str | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    if date:
        env |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def odoo_remote(tmp_path: Path, major: int = 18) -> Path:
    """A bare repository laid out like Odoo's (odoo/release.py, addons/), branch 18.0, three dated commits."""
    work = tmp_path / f"work{major}"
    (work / "odoo").mkdir(parents=True)
    (work / "addons" / "sms").mkdir(parents=True)
    (work / "odoo" / "release.py").write_text(RELEASE.format(major=major))
    (work / "addons" / "sms" / "__init__.py").write_text("")
    (work / "requirements.txt").write_text("phonenumbers\n")
    git("init", "-q", "-b", "18.0", cwd=work)
    for day, marker in (("2025-04-01T12:00:00Z", "april"), ("2025-05-06T12:00:00Z", "tested"),
                        ("2025-06-01T12:00:00Z", "june")):
        (work / "marker").write_text(marker)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", marker, cwd=work, date=day)
    bare = tmp_path / f"odoo{major}.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    return bare


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ODOO_")}
    return subprocess.run(["bash", str(SCRIPT)], env=clean | env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)


def test_fetches_the_tested_commit_of_the_18_branch(tmp_path: Path) -> None:
    target = tmp_path / "opt" / "odoo18"
    done = run(tmp_path, ODOO_SRC=str(target), ODOO_REMOTE=f"file://{odoo_remote(tmp_path)}")
    assert done.returncode == 0, done.stderr
    assert "Odoo 18.0 source laid at" in done.stdout and "as of 2025-05-06" in done.stdout
    assert (target / "marker").read_text() == "tested", "the commit of the tested date, not the newest"
    assert (target / "odoo" / "addons" / "sms" / "__init__.py").exists(), "addons where the packages put them"
    assert not (target / "addons").exists()
    again = run(tmp_path, ODOO_SRC=str(target), ODOO_REMOTE="file:///nowhere")
    assert again.returncode == 0 and "Odoo 18.0 source at" in again.stdout, "a source in place is used as is"
    assert not list(tmp_path.glob("opt/*.partial*")), "nothing left behind"


def test_refuses_a_tree_that_is_not_18(tmp_path: Path) -> None:
    target = tmp_path / "odoo"
    done = run(tmp_path, ODOO_SRC=str(target), ODOO_REMOTE=f"file://{odoo_remote(tmp_path, major=17)}")
    assert done.returncode == 2
    assert "is not Odoo 18.0" in done.stderr
    assert not target.exists()


def test_says_in_one_line_what_to_do_without_network(tmp_path: Path) -> None:
    done = run(tmp_path, ODOO_SRC=str(tmp_path / "odoo"), ODOO_REMOTE=f"file://{tmp_path}/missing.git")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "cannot fetch Odoo 18.0" in line and "ODOO_SRC" in line and "ODOO_GIT_DIR" in line


def test_never_overwrites_a_folder_that_holds_something_else(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    done = run(tmp_path, ODOO_SRC=str(target), ODOO_REMOTE=f"file://{odoo_remote(tmp_path)}")
    assert done.returncode == 2 and "is not empty" in done.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("major", [18, 17])
def test_a_local_git_directory_is_laid_out_without_network(tmp_path: Path, major: int) -> None:
    target = tmp_path / "odoo"
    done = run(tmp_path, ODOO_SRC=str(target), ODOO_GIT_DIR=str(odoo_remote(tmp_path, major)),
               ODOO_REMOTE="file:///nowhere")
    if major == 18:
        assert done.returncode == 0, done.stderr
        assert (target / "marker").read_text() == "june", "a local directory's HEAD, as given"
    else:
        assert done.returncode == 2 and "is not Odoo 18.0" in done.stderr
        assert not target.exists()
