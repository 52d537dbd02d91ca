"""`make gradescope`: the autograder packages Gradescope runs for every submission.

`build/gradescope/NN_module/autograder.zip` grades one module's assignment, and
`build/gradescope/autograder.zip` the whole course.  Gradescope unpacks a zip into
`/autograder/source`; each holds `setup.sh` (one-time install), `run_autograder` (per
submission), `requirements.txt` and the bundle (`bundle.py`: the grader with expected values
drawn for this build, and the stubs).

`run_autograder` runs as root.  It makes the grader, the original submission and the results
unreadable to the sandbox user, lays the submission out (`collect`) in a folder that user may
read, and grades it with student code running as that user; the grader refuses to start
unless a probe proves the confinement.  `AUTOGRADER_ROOT` (default `/autograder`),
`AUTOGRADER_PYTHON` and `AUTOGRADER_SANDBOX_USER` let it run locally in a folder laid out the
same way; not as root, it runs only with `AUTOGRADER_LOCAL_TEST=1`, and says so in the output.
"""

from __future__ import annotations

import importlib.metadata
import re
import zipfile
from pathlib import Path

from .. import course
from . import bundle

SANDBOX_USER = "course-sandbox"

SETUP_SH = f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --no-cache-dir -r /autograder/source/requirements.txt
# Student code runs as this unprivileged user: it can read Python and its own files only.
id {SANDBOX_USER} >/dev/null 2>&1 || useradd --system --no-create-home \\
    --shell /usr/sbin/nologin {SANDBOX_USER}
"""

RUN_AUTOGRADER = f"""#!/usr/bin/env bash
# Gradescope runs this, as root, for every submission; it writes $ROOT/results/results.json.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
SANDBOX_USER="${{AUTOGRADER_SANDBOX_USER:-{SANDBOX_USER}}}"
SELECT=(@SELECT@)  # which exercises this assignment grades
mkdir -p "$ROOT/results"
# Only root may read the grader and its expected values, the original submission and the
# results; the grader checks that the sandbox user cannot, before it runs any student code.
chmod 700 "$ROOT/source" "$ROOT/submission" "$ROOT/results"
WORK="$(mktemp -d)"
chmod 711 "$WORK"
cd "$ROOT/source"
"$PYTHON" -m grader.distribute.collect "$ROOT/submission" "$WORK/submission" \\
    --stubs "$ROOT/source/exercises" "${{SELECT[@]}}" > "$WORK/notes.txt"
chmod -R a+rX "$WORK/submission"
if [ "$(id -u)" = 0 ]; then
    CONFINE=(--sandbox-user "$SANDBOX_USER" --private "$ROOT/source" --private "$ROOT/submission")
elif [ "${{AUTOGRADER_LOCAL_TEST:-}}" = 1 ]; then
    CONFINE=()
    echo "Local test run: student code ran as $(id -un), not sandboxed." >> "$WORK/notes.txt"
else
    echo "run_autograder runs as root, as on Gradescope (AUTOGRADER_LOCAL_TEST=1 runs it" \\
         "without a sandbox user, for a local test)" >&2
    rm -rf "$WORK"
    exit 2
fi
"$PYTHON" -m grader --target "$WORK/submission" --json "$ROOT/results/results.json" \\
    --hide-hidden-checks --verbose --preamble "$WORK/notes.txt" "${{SELECT[@]}}" \\
    "${{CONFINE[@]}}"
status=$?
rm -rf "$WORK"
exit $status
"""


def requirements() -> str:
    """The student dependencies of pyproject.toml but the plotting library, pinned to the
    versions of this build (what the course was tested with here): every submission of the
    term is graded by the same NumPy and pytest."""
    wanted = []
    for req in importlib.metadata.requires("transformers-from-theory") or []:
        if "extra ==" in req or re.match(r"matplotlib\b", req):
            continue
        name = re.match(r"[A-Za-z0-9_.-]+", req).group(0)
        wanted.append(f"{name}=={importlib.metadata.version(name)}")
    return "\n".join(wanted) + "\n"


def _add_text(zf: zipfile.ZipFile, name: str, text: str | bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def build_zip(target: Path, data: dict[str, bytes], module: course.Module | None = None) -> Path:
    """One autograder: for one module's assignment, or (None) for the whole course."""
    select = f"--exercise {module.number}" if module else ""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        _add_text(zf, "setup.sh", SETUP_SH, executable=True)
        _add_text(zf, "run_autograder", RUN_AUTOGRADER.replace("@SELECT@", select), executable=True)
        _add_text(zf, "requirements.txt", requirements())
        for name, content in bundle.files(data):
            _add_text(zf, name, content)
    return target


def build(out_dir: Path) -> list[Path]:
    """`autograder.zip` for the whole course, and `NN_module/autograder.zip` per module, all
    with the same expected values, drawn for this build."""
    data = bundle.secret_fixtures()
    zips = [build_zip(out_dir / "autograder.zip", data)]
    for module in course.MODULES:
        zips.append(build_zip(out_dir / f"{module.number:02d}_{module.package}" /
                              "autograder.zip", data, module))
    return zips
