"""`make gradescope`: the autograder packages Gradescope runs for every submission.

`build/gradescope/NN_module/autograder.zip` grades one module's assignment, and
`build/gradescope/autograder.zip` the whole course.  Gradescope unpacks a zip into
`/autograder/source`; each holds `setup.sh` (one-time install), `run_autograder` (per
submission), `requirements.txt`, the `grader/` package with every check (hidden ones too:
students never see this zip) and the stubs in `exercises/` (stand-ins for files a student did
not upload).  `run_autograder` reads `AUTOGRADER_ROOT` (default `/autograder`) and
`AUTOGRADER_PYTHON`, so a package can run locally in a folder laid out the same way.
"""

from __future__ import annotations

import importlib.metadata
import re
import zipfile
from pathlib import Path

from .. import course

REPO_ROOT = Path(__file__).resolve().parents[2]
SANDBOX_USER = "course-sandbox"

SETUP_SH = f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --no-cache-dir -r /autograder/source/requirements.txt
# Student code runs as this unprivileged user: it cannot touch the results, the grader or
# the fixtures, and cannot signal the grader.
id {SANDBOX_USER} >/dev/null 2>&1 || useradd --system --no-create-home \\
    --shell /usr/sbin/nologin {SANDBOX_USER}
"""

RUN_AUTOGRADER = f"""#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes $ROOT/results/results.json.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
WORK="$(mktemp -d)"
mkdir -p "$ROOT/results"
cd "$ROOT/source"
SELECT=(@SELECT@)  # which exercises this assignment grades
"$PYTHON" -m grader.distribute.collect "$ROOT/submission" "$WORK/submission" \\
    --stubs "$ROOT/source/exercises" "${{SELECT[@]}}" > "$WORK/notes.txt"
SANDBOX=()
if [ "$(id -u)" = 0 ] && id {SANDBOX_USER} >/dev/null 2>&1; then
    chmod -R a+rX "$WORK"
    SANDBOX=(--sandbox-user {SANDBOX_USER})
fi
"$PYTHON" -m grader --target "$WORK/submission" --json "$ROOT/results/results.json" \\
    --hide-hidden-checks --preamble "$WORK/notes.txt" "${{SELECT[@]}}" "${{SANDBOX[@]}}"
status=$?
rm -rf "$WORK"
exit $status
"""


def requirements() -> str:
    """The student dependencies of pyproject.toml, minus the plotting library."""
    wanted = []
    for req in importlib.metadata.requires("transformers-from-theory") or []:
        if "extra ==" in req or re.match(r"matplotlib\b", req):
            continue
        wanted.append(req)
    return "\n".join(wanted) + "\n"


def _add_tree(zf: zipfile.ZipFile, folder: Path, arc_root: str) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            zf.write(path, f"{arc_root}/{path.relative_to(folder).as_posix()}")


def _add_text(zf: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def build_zip(target: Path, module: course.Module | None = None) -> Path:
    """One autograder: for one module's assignment, or (None) for the whole course."""
    select = f"--exercise {module.number}" if module else ""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        _add_text(zf, "setup.sh", SETUP_SH, executable=True)
        _add_text(zf, "run_autograder", RUN_AUTOGRADER.replace("@SELECT@", select), executable=True)
        _add_text(zf, "requirements.txt", requirements())
        _add_tree(zf, REPO_ROOT / "grader", "grader")
        _add_tree(zf, REPO_ROOT / "exercises", "exercises")
    return target


def build(out_dir: Path) -> list[Path]:
    """`autograder.zip` for the whole course, and `NN_module/autograder.zip` per module."""
    zips = [build_zip(out_dir / "autograder.zip")]
    for module in course.MODULES:
        zips.append(build_zip(out_dir / f"{module.number:02d}_{module.package}" /
                              "autograder.zip", module))
    return zips
