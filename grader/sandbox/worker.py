"""The sandboxed side of grading: runs student code on request, in its own process.

Started by `process.Worker` as `python -I -B worker.py REQUEST_FD RESPONSE_FD CONFIG_JSON`, or
forked by `forkserver.py` (which has imported this file and NumPy once for the whole grading
run), from a copy in the grading run's scratch folder (`launch.Scratch`), with a minimal
environment.
Before any student code runs it confines itself (`confine.apply`: resource limits, Landlock).
It loads student files lazily, on the first request for a name they define, as submodules of
a synthetic package whose `__init__.py` is never executed — so a syntax error in one file costs
only the exercises that use that file.  It answers calls over a pipe with `wire` messages.
Everything the student's code does (patching NumPy, printing, exiting, hanging) stays in this
process: the grader compares results in the parent, which never executes student code.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import json
import os
import sys
import traceback
import tracemalloc
import types
import warnings
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _load(name: str):
    """A module of this folder, by path: the worker's copy has no package around it."""
    spec = importlib.util.spec_from_file_location(f"_grader_{name}", _HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire = _load("wire")
confine = _load("confine")

import numpy as np  # noqa: E402  (after wire, which is stdlib + NumPy only)
import numpy.linalg  # noqa: E402, F401  (loaded before the sandbox closes, as students use it)


class Session:
    def __init__(self, target: Path, package: str, names: dict[str, str]):
        self.target, self.package, self.names = target, package, names
        self.handles: dict[int, object] = {}

    # -- loading student files ---------------------------------------------------------
    def _ensure_package(self, dotted: str, path: Path) -> None:
        if dotted in sys.modules:
            return
        if not path.is_dir():
            raise ModuleNotFoundError(f"{self._show(path)}/ is missing")
        module = types.ModuleType(dotted)
        module.__path__ = [str(path)]
        module.__package__ = dotted
        sys.modules[dotted] = module

    def lookup(self, name: str):
        if name not in self.names:
            raise AttributeError(f"the grader does not know a course function named {name!r}")
        parts = self.names[name].split(".")  # e.g. ["self_attention", "attention"]
        self._ensure_package(self.package, self.target)
        # Every course module becomes a package whose __init__ never runs, also when reached
        # by a relative import from another module (`from ..self_attention.multi_head ...`):
        # a broken file then costs only the exercises that import it.
        for module in sorted({dotted.split(".")[0] for dotted in self.names.values()}):
            if (self.target / module).is_dir():
                self._ensure_package(f"{self.package}.{module}", self.target / module)
        for depth in range(1, len(parts)):
            sub = ".".join([self.package, *parts[:depth]])
            self._ensure_package(sub, self.target.joinpath(*parts[:depth]))
        file = self.target.joinpath(*parts).with_suffix(".py")
        if not file.is_file():
            raise ModuleNotFoundError(f"{self._show(file)} is missing")
        module = importlib.import_module(".".join([self.package, *parts]))
        if not hasattr(module, name):
            raise AttributeError(f"{self._show(file)} does not define {name!r}")
        return getattr(module, name)

    def _show(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.target.parent))
        except ValueError:
            return str(path)

    # -- handles for objects that stay here -------------------------------------------
    def keep(self, obj) -> dict:
        handle_id = len(self.handles) + 1
        self.handles[handle_id] = obj
        return {"h": handle_id, "type": type(obj).__name__, "callable": callable(obj)}

    def resolve(self, node) -> object:
        handle_id = int(node["h"])
        if handle_id not in self.handles:
            raise wire.WireError(f"unknown handle {handle_id}")
        return self.handles[handle_id]

    # -- requests ----------------------------------------------------------------------
    def handle(self, request: dict, objects: list) -> dict:
        op = request["op"]
        if op == "lookup":
            return {"value": self.lookup(request["name"])}
        if op == "getattr":
            return {"value": getattr(request["obj"], request["attr"])}
        if op == "setattr":
            setattr(request["obj"], request["attr"], request["value"])
            return {"value": None}
        if op == "call":
            return self.call(request, objects)
        if op == "perturb":
            return self.perturb(request)
        if op == "trim":
            return {"value": _release_free_memory()}
        raise wire.WireError(f"unknown op {op!r}")

    def call(self, request: dict, objects: list) -> dict:
        if request.get("cpu"):
            confine.cpu_budget(float(request["cpu"]))
        snapshots = [_snapshot(obj) for obj in objects]
        fn, args, kwargs = request["fn"], request["args"], request["kwargs"]
        peak = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if request.get("memory"):  # only where the grader cannot read /proc (macOS)
                tracemalloc.start()
                try:
                    value = fn(*args, **kwargs)
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
            else:
                value = fn(*args, **kwargs)
        changed = [
            [index, obj]
            for index, (obj, snap) in enumerate(zip(objects, snapshots))
            if _changed(obj, snap)
        ]
        shown = [f"{w.category.__name__}: {w.message}" for w in caught[:5]]
        return {"value": value, "sync": changed, "peak": peak, "warnings": shown}


    def perturb(self, request: dict) -> dict:
        """The outputs of `fn` with each entry of `target` moved by +h and -h in turn (the
        grader computes the finite differences from them)."""
        if request.get("cpu"):
            confine.cpu_budget(float(request["cpu"]))
        x, fn, args, kwargs = request["target"], request["fn"], request["args"], request["kwargs"]
        h, output = float(request["h"]), request["output"]
        if not (isinstance(x, np.ndarray) and x.dtype == np.float64 and x.flags.c_contiguous):
            raise wire.WireError("perturb: the target must be a contiguous float64 array")
        flat, outs = x.reshape(-1), None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(flat.size):
                old = flat[i]
                for side, step in enumerate((h, -h)):
                    flat[i] = old + step
                    value = fn(*args, **kwargs)
                    value = np.asarray(value if output is None else value[int(output)],
                                       dtype=np.float64)
                    if outs is None:
                        outs = np.empty((2, flat.size, *value.shape))
                    outs[side, i] = value  # a shape that changes from call to call raises
                flat[i] = old
        shown = [f"{w.category.__name__}: {w.message}" for w in caught[:5]]
        return {"value": outs, "sync": [], "peak": None, "warnings": shown}


def _release_free_memory() -> bool:
    """Hand the allocator's free pages back to the system (glibc's malloc_trim), so that the
    resident size the grader reads next grows with every page a call allocates. False where
    there is no glibc."""
    try:
        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError, TypeError):  # no glibc (macOS), or no CDLL(None)
        return False


def _snapshot(obj):
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, list):
        return list(obj)
    if isinstance(obj, dict):
        return list(obj.items())
    if isinstance(obj, np.random.Generator):
        return json.dumps(obj.bit_generator.state, default=int)
    return None


def _changed(obj, snap) -> bool:
    if isinstance(obj, np.ndarray):  # bytes, not np.array_equal, which student code can patch
        return obj.shape != snap.shape or obj.tobytes() != snap.tobytes()
    if isinstance(obj, list):
        return len(obj) != len(snap) or any(a is not b for a, b in zip(obj, snap))
    if isinstance(obj, dict):
        items = list(obj.items())
        return len(items) != len(snap) or any(
            ka != kb or va is not vb for (ka, va), (kb, vb) in zip(items, snap)
        )
    if isinstance(obj, np.random.Generator):
        return json.dumps(obj.bit_generator.state, default=int) != snap
    return False


def _describe(exc: BaseException, target: Path) -> dict:
    """The error as the student should see it: their frames only, paths relative."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if Path(f.filename).resolve().parent != _HERE and "importlib" not in f.filename
    ]
    lines = []
    for f in frames[-6:]:
        where = f.filename
        try:
            where = str(Path(f.filename).resolve().relative_to(target.parent))
        except ValueError:
            pass
        lines.append(f"  {where}, line {f.lineno}, in {f.name}\n    {(f.line or '').strip()}")
    if isinstance(exc, SyntaxError) and exc.filename:
        text = (exc.text or "").rstrip("\n")
        code = text.strip()
        column = (exc.offset or 1) - 1 - (len(text) - len(text.lstrip()))  # in `code`
        caret = f"\n    {' ' * column}^" if code and 0 <= column <= len(code) else ""
        lines.append(f"  {exc.filename}, line {exc.lineno}\n    {code}{caret}")
    message = str(exc)
    if isinstance(exc, SystemExit):
        message = f"your code called sys.exit({exc.code!r})"
    return {
        "type": type(exc).__name__,
        "message": message,
        "traceback": "\n".join(lines),
        "not_implemented": isinstance(exc, NotImplementedError),
    }


def probe(config: dict) -> None:
    """`worker.py --probe CONFIG`: confine as a worker does, then print (JSON) whether the
    submission is readable and which private paths can still be read or written."""
    applied = confine.apply(config["confine"])
    try:
        os.listdir(config["target"])
        readable = True
    except OSError:
        readable = False
    reachable = []
    for path in config["probe"]:
        if os.path.isdir(path):
            attempts = [("list", lambda p=path: os.listdir(p)),
                        ("write into", lambda p=path: _create_and_remove(p))]
        else:
            attempts = [("read", lambda p=path: open(p, "rb").close()),
                        ("write", lambda p=path: open(p, "ab").close())]
        for how, attempt in attempts:
            try:
                attempt()
                reachable.append([path, how])
            except OSError:
                pass
    print(json.dumps({"target_readable": readable, "private_reachable": reachable,
                      "python": sys.version.split()[0], **applied}))


def _create_and_remove(folder: str) -> None:
    path = os.path.join(folder, ".sandbox-probe")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.unlink(path)


def main(argv: list[str]) -> None:
    if argv[1] == "--probe":
        probe(json.loads(argv[2]))
        return
    serve(int(argv[1]), int(argv[2]), json.loads(argv[3]))


def serve(request_fd: int, response_fd: int, config: dict) -> None:
    """Confine this process, say so, then answer requests until the grader hangs up."""
    target = Path(config["target"])
    applied = confine.apply(config["confine"])  # from here on, nothing can lift the limits
    session = Session(target, config["package"], config["names"])
    wire.send(response_fd, wire.encode({"ready": True, **applied})[0])
    while True:
        try:
            data = wire.recv(request_fd)
        except EOFError:
            return
        try:
            # The first byte says how to decode.  A pure call ("P") gets read-only arrays: an
            # in-place edit raises, whatever the student's code patched in this process.
            mode, data = data[:1], data[1:]
            request, objects = wire.decode(data, on_handle=session.resolve,
                                           readonly=mode == b"P")
            reply = session.handle(request, objects)
        except BaseException as exc:  # noqa: BLE001 — everything, SystemExit included, is reported
            reply = {"error": _describe(exc, target)}
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001 — a full disk quota must not kill the worker
                    pass
        try:
            payload = wire.encode(reply, on_other=session.keep)[0]
        except Exception as exc:  # noqa: BLE001 — e.g. an object array returned by the student
            payload = wire.encode({"error": _describe(exc, target)})[0]
        wire.send(response_fd, payload)


if __name__ == "__main__":
    main(sys.argv)
