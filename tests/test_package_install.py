"""The wheel works on its own: built from the checkout and installed into a fresh venv that
cannot see the source tree, it finds its shipped models and presets and scans a real recording.

Third-party packages (torch, ...) come from this interpreter's site-packages through a ``.pth``
(as /work/mkhelperenv.sh does), so the test needs no network; tagger itself only from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PIANO = REPO / "examples" / "library" / "03-night-study-piano.flac"


def _third_party_dirs() -> list[str]:
    """site-packages folders on this sys.path that hold no importable ``tagger``."""
    return [entry for entry in sys.path
            if entry.endswith(("site-packages", "dist-packages")) and Path(entry).is_dir()
            and not (Path(entry) / "tagger" / "__init__.py").exists()]


def _copy_checkout(root: Path) -> Path:
    """The files a build reads, copied, so that building writes nothing into the checkout."""
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for folder in ("tagger", "models", "beetsplug"):
        shutil.copytree(REPO / folder, src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return src


def _fresh_venv(env_dir: Path, *install: str) -> Path:
    """A venv that sees this interpreter's third-party packages, with ``pip install *install``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    (site,) = (env_dir / "lib").glob("python3*/site-packages")
    (site / "shared-deps.pth").write_text("\n".join(_third_party_dirs()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"),
                    "install", "-q", "--no-deps", "--no-index", "--no-build-isolation", *install],
                   check=True, capture_output=True, text=True)
    return env_dir


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from a copy of the checkout's package files."""
    root = tmp_path_factory.mktemp("wheel")
    src = _copy_checkout(root)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(root / "dist"), str(src)],
                   check=True, capture_output=True, text=True)
    (wheel,) = (root / "dist").glob("tagger-*.whl")
    return _fresh_venv(root / "venv", str(wheel))


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "TAGGER_MODELS_DIR", "TAGGER_MODEL", "TAGGER_DB")}
    env["HOME"] = str(cwd)  # the user data folder (default store) is fresh too
    env["XDG_DATA_HOME"] = str(cwd / ".local" / "share")
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_installed_wheel_scans_with_the_shipped_default_model(venv: Path, tmp_path: Path
                                                              ) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    track = shutil.copy2(PIANO, outside / PIANO.name)
    python, tagger = str(venv / "bin" / "python"), str(venv / "bin" / "tagger")
    where = _run(venv, outside, python, "-c",
                 "import tagger, tagger.config as c; print(tagger.__file__); "
                 "print(c.checkout_root()); print(c.package_models_dir())")
    origin, checkout, models = where.stdout.split()
    assert Path(origin).is_relative_to(venv) and checkout == "None", where.stdout
    assert Path(models) == Path(origin).parent / "models"
    assert (Path(models) / "DEFAULT").is_file()
    assert [p.name for p in Path(models).glob("*.py")] == ["__init__.py"]  # no build scripts

    listed = _run(venv, outside, tagger, "models", "--json")
    assert listed.returncode == 0, listed.stderr
    names = {card["name"] for card in json.loads(listed.stdout)}
    default = (Path(models) / "DEFAULT").read_text().split()[0]
    assert {"tagger-as", "tagger-fast", "tagger-ensemble", default} <= names

    scanned = _run(venv, outside, tagger, "scan", str(track), "--db", "lib.db", "-q")
    assert scanned.returncode == 0, scanned.stderr
    exported = _run(venv, outside, tagger, "export", "--db", "lib.db")
    (row,) = [json.loads(line) for line in exported.stdout.splitlines()]
    assert row["status"] == "ok" and row["model"].startswith(default)
    assert any(seg["instrument"] == "piano" for seg in row["segments"]), row["segments"]


def test_installed_wheel_ships_the_beets_plugin_and_the_label_page(venv: Path, tmp_path: Path
                                                                  ) -> None:
    probe = _run(venv, tmp_path, str(venv / "bin" / "python"), "-c",
                 "import beetsplug.instruments as b, importlib.resources as r; print(b.__file__); "
                 "print(*sorted(p.name for p in (r.files('tagger.label') / 'static').iterdir()))")
    assert probe.returncode == 0, probe.stderr
    plugin, *static = probe.stdout.split()
    assert Path(plugin).is_relative_to(venv)
    assert "index.html" in static, static


def test_installed_wheel_ships_the_training_presets(venv: Path, tmp_path: Path) -> None:
    shipped = sorted(p.name for p in (REPO / "tagger" / "train" / "presets").glob("*.toml"))
    probe = _run(venv, tmp_path, str(venv / "bin" / "python"), "-c",
                 "from tagger.train.config import load_config, presets_dir; "
                 "print(*sorted(p.name for p in presets_dir().glob('*.toml'))); "
                 "print(load_config('mn04-finetune-cpu').steps)")
    assert probe.returncode == 0, probe.stderr
    names, steps = probe.stdout.splitlines()
    assert names.split() == shipped and int(steps) > 0


def test_editable_install_maps_the_models_folder(tmp_path: Path) -> None:
    """``make setup`` installs with ``-e``: there ``tagger.models`` is the checkout's models/."""
    src = _copy_checkout(tmp_path)
    venv = _fresh_venv(tmp_path / "venv", "-e", str(src))
    probe = _run(venv, tmp_path, str(venv / "bin" / "python"), "-c",
                 "from importlib.resources import files; import tagger; "
                 "print(tagger.__file__); print(files('tagger.models'))")
    assert probe.returncode == 0, probe.stderr
    origin, models = probe.stdout.split()
    assert Path(origin) == src / "tagger" / "__init__.py" and Path(models) == src / "models"
