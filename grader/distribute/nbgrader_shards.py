"""`nbgrader autograde` of one assignment on every core: the students split into shards.

Each shard is one ordinary `nbgrader autograde NAME --force` process run in the course
folder, told to leave out the students of the other shards
(`--CourseDirectory.student_id_exclude`), so nbgrader itself writes the gradebook, the
`autograded/` notebooks and, through `GradeInSandbox`, each student's check verdicts
(`reports/checks/NAME/<student>.json`); their appearance is the progress.

The shards share the sqlite gradebook.  sqlite's locks keep concurrent writers from
corrupting it, and nbgrader writes in short transactions (a student, a submission, each
cell's score); a writer that finds the database locked waits up to 5 s (sqlite's default
through SQLAlchemy), so shards take turns without errors (8 processes adding 40 students
each at once through nbgrader's own API got none).  Were one to give up ("database is
locked"), nbgrader would stop that shard: the students a failed shard left ungraded are
graded again at the end, in one shard of their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .parallel import stop_gently

# `python -m nbgrader`, less a second and a half of start-up: jsonschema, which nbgrader
# imports, loads rfc3987-syntax where it is installed (Jupyter's event schemas pull it in),
# and that compiles a grammar on import, for an IRI string format no nbgrader command checks.
NBGRADER = [sys.executable, "-c",
            "import sys; sys.modules['rfc3987_syntax'] = None; sys.argv[0] = 'nbgrader'; "
            "from nbgrader.apps.nbgraderapp import main; main()"]

TICK = 0.5  # seconds between looks at the checks folder


@dataclass(frozen=True)
class Shard:
    students: tuple[str, ...]
    log: Path
    exitcode: int


def students_of(course: Path, assignment: str) -> list[str]:
    """Students with a submission of `assignment` (what nbgrader's `submitted/*/NAME` finds:
    glob skips hidden folders)."""
    submitted = course / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(p.name for p in submitted.iterdir()
                  if not p.name.startswith(".") and (p / assignment).is_dir())


def split(students: list[str], jobs: int) -> list[list[str]]:
    """At most `jobs` shards of nearly equal size.  A student id with a comma cannot be
    excluded (nbgrader splits the list at commas): then everyone goes in one shard."""
    if any("," in s for s in students):
        return [list(students)] if students else []
    count = max(1, min(jobs, len(students)))
    return [shard for shard in (students[i::count] for i in range(count)) if shard]


def checks_folder(course: Path, assignment: str) -> Path:
    return course / "reports" / "checks" / assignment


def command(course: Path, assignment: str, everyone: list[str], shard: list[str],
            config: tuple[str, ...] = ()) -> list[str]:
    """The shard's autograde, its verdicts where the progress is looked for."""
    others = sorted(set(everyone) - set(shard))
    return [*NBGRADER, "autograde", assignment, "--force",
            f"--CourseDirectory.student_id_exclude={','.join(others)}",
            f"--GradeInSandbox.checks_dir={checks_folder(course, assignment).parent}",
            *config]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    # nbgrader runs helper commands (alembic, jupyter) from PATH: use this environment's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # The shards' own NumPy work is tiny: BLAS threads would only fight for the cores.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    return env


def graded_since(course: Path, assignment: str, students: list[str], start: float) -> set[str]:
    """Students whose checks file was written after `start`."""
    folder = checks_folder(course, assignment)
    done = set()
    for student in students:
        try:
            if (folder / f"{student}.json").stat().st_mtime >= start:
                done.add(student)
        except OSError:
            pass
    return done


def autograde(course: Path, assignment: str, students: list[str], jobs: int, logs: Path,
              config: tuple[str, ...] = (),
              on_progress: Callable[[int], None] | None = None,
              sandbox_users: tuple[str, ...] = ()) -> tuple[list[Shard], set[str]]:
    """Autograde `students` in up to `jobs` shards at once, then once more those a failed
    shard left ungraded; returns every shard that ran (with its log) and the students
    graded.  With `sandbox_users`, shard k runs student code as user k: after each exercise
    the grader kills every process of its sandbox user, so shards must not share one."""
    if sandbox_users:
        jobs = min(jobs, len(sandbox_users))
    logs.mkdir(parents=True, exist_ok=True)
    start = time.time()
    # The shards' temporary folders go into one of the run's, removed at the end: a shard
    # stopped half-way leaves nothing behind.
    scratch = Path(tempfile.mkdtemp(prefix="class-autograde-"))
    try:
        scratch.chmod(0o711)  # a sandbox user may pass through, not list
        env = {**environment(), "TMPDIR": str(scratch)}
        shards = _run(course, assignment, students, split(students, jobs), logs, config, env,
                      start, on_progress, "shard", sandbox_users)
        graded = graded_since(course, assignment, students, start)
        missing = [s for s in students if s not in graded]
        if missing and any(shard.exitcode != 0 for shard in shards):
            shards += _run(course, assignment, students, [missing], logs, config, env, start,
                           on_progress, "retry", sandbox_users)
            graded = graded_since(course, assignment, students, start)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return shards, graded


def _run(course, assignment, everyone, groups, logs, config, env, start, on_progress,
         name: str, sandbox_users: tuple[str, ...]) -> list[Shard]:
    running = []
    for index, group in enumerate(groups):
        log = logs / f"{name}-{index + 1}.txt"
        own = (f"--GradeInSandbox.sandbox_user={sandbox_users[index]}",) if sandbox_users else ()
        with open(log, "w") as out:
            proc = subprocess.Popen(command(course, assignment, everyone, group, config + own),
                                    cwd=course, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        running.append((group, log, proc))
    try:
        while any(proc.poll() is None for _, _, proc in running):
            time.sleep(TICK)
            if on_progress:
                on_progress(len(graded_since(course, assignment, everyone, start)))
    finally:  # interrupted: stop the shards too, letting them clean up
        stop_gently([proc for _, _, proc in running], lambda proc: proc.poll() is None)
        for _, _, proc in running:
            proc.wait()
    if on_progress:
        on_progress(len(graded_since(course, assignment, everyone, start)))
    return [Shard(tuple(group), log, proc.returncode) for group, log, proc in running]
