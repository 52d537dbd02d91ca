"""Safe serialisation between the grader and the sandboxed worker that runs student code.

Nothing here unpickles: a message is a JSON header plus raw array buffers, so a hostile
worker can send only data (None, bool, int, float, str, bytes, tuple, list, dict, NumPy
arrays and scalars of numeric or bool dtype, generator states) or opaque handles to objects
that stay in the worker.  This module imports nothing but the standard library and NumPy, because
the worker loads it by file path before any student code runs.
"""

from __future__ import annotations

import functools
import json
import math
import re
import struct

import numpy as np

# Array dtypes allowed across the boundary: bool, signed/unsigned int, float, complex.
_SURROGATE = re.compile("[\ud800-\udfff]")  # lone halves of UTF-16 pairs
_SAFE_KINDS = set("biufc")
MAX_MESSAGE_BYTES = 512 * 1024 * 1024


class WireError(Exception):
    """A message could not be encoded or decoded."""


class Handle:
    """Reference to an object that lives on the other side (a model, a dataclass, a function)."""

    __slots__ = ("id", "type_name", "is_callable")

    def __init__(self, id: int, type_name: str = "", is_callable: bool = False):
        self.id, self.type_name, self.is_callable = id, type_name, is_callable


class Encoder:
    """Turns an object tree into a JSON-able node tree plus raw buffers.

    Arrays, lists, dicts and generators are numbered in pre-order (`objects`), and an object
    met twice is sent once and referenced (`{"ref": k}`), so `x_kv is x_q` survives the trip
    and both sides can name an argument by its number when reporting in-place changes.
    """

    def __init__(self, on_other=None):
        self.buffers: list[bytes] = []
        self.objects: list = []
        self._seen: dict[int, int] = {}
        self._on_other = on_other

    def node(self, obj):
        # The common exact types first (a call carries dozens of nodes); subclasses, NumPy
        # scalars and the rest take the general path below.
        kind = type(obj)
        if kind is np.ndarray or kind is dict or kind is list:
            return self._mutable(obj)
        if kind is float:
            return {"float": repr(obj)}
        if kind is int:
            return {"int": str(obj)}
        if kind is str:
            return obj if obj.isascii() or not _SURROGATE.search(obj) else self._surrogates(obj)
        if kind is bool or obj is None:
            return obj
        # bool before int: bool is a subclass of int.
        # NumPy scalars first: np.float64 is a subclass of float, and must keep its dtype.
        if isinstance(obj, np.generic) and obj.dtype.kind in _SAFE_KINDS:
            return self._array(np.asarray(obj), "s")
        if isinstance(obj, str):
            return self.node(str(obj))
        if obj is None or isinstance(obj, bool):
            return obj
        if isinstance(obj, bytes):  # immutable data (a BPE vocabulary's tokens)
            self.buffers.append(bytes(obj))
            return {"b": len(self.buffers) - 1}
        if isinstance(obj, int):
            return {"int": str(int(obj))}
        if isinstance(obj, float):
            return {"float": repr(float(obj))}
        if isinstance(obj, tuple):
            return {"t": [self.node(x) for x in obj]}
        # dtypes as arguments (`dtype=np.float32`): the scalar type or the dtype object.
        if isinstance(obj, type) and issubclass(obj, np.generic) and \
                np.dtype(obj).kind in _SAFE_KINDS:
            return {"sctype": np.dtype(obj).str}
        if isinstance(obj, np.dtype) and obj.kind in _SAFE_KINDS:
            return {"dtype_obj": obj.str}
        if isinstance(obj, Handle):
            return {"h": obj.id}
        if isinstance(obj, (np.ndarray, list, dict, np.random.Generator)):
            return self._mutable(obj)
        return self._other(obj)

    def _mutable(self, obj):
        """An array, list, dict or generator: numbered, and sent once however often it is
        met."""
        if id(obj) in self._seen:
            return {"ref": self._seen[id(obj)]}
        if isinstance(obj, np.ndarray) and obj.dtype.kind not in _SAFE_KINDS:
            return self._other(obj)
        self._seen[id(obj)] = len(self.objects)
        self.objects.append(obj)
        if isinstance(obj, np.ndarray):
            return self._array(obj, "a")
        if isinstance(obj, list):
            return {"l": [self.node(x) for x in obj]}
        if isinstance(obj, dict):
            return {"d": [[self.node(k), self.node(v)] for k, v in obj.items()]}
        return {"rng": json.dumps(obj.bit_generator.state, default=_int_default)}

    def _other(self, obj):
        if self._on_other is None:
            raise WireError(f"cannot send a {type(obj).__name__} across the sandbox")
        return self._on_other(obj)

    def _surrogates(self, text: str):
        # JSON would join a high and a low surrogate into one character on the way back:
        # send the code points as they are, one by one.
        self.buffers.append(text.encode("utf-8", "surrogatepass"))
        return {"u": len(self.buffers) - 1}

    def _array(self, arr: np.ndarray, tag: str):
        self.buffers.append(np.ascontiguousarray(arr).tobytes())
        return {tag: len(self.buffers) - 1, "dtype": arr.dtype.str, "shape": list(arr.shape)}

    def message(self, obj) -> bytes:
        header = json.dumps(self.node(obj)).encode()
        parts = [struct.pack("<II", len(header), len(self.buffers)), header]
        for buf in self.buffers:
            parts.append(struct.pack("<Q", len(buf)))
            parts.append(buf)
        return b"".join(parts)


def _int_default(value):
    if isinstance(value, np.integer):
        return int(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


class Decoder:
    """Inverse of `Encoder`; records the same pre-order `objects` list.

    With `readonly=True`, arrays are views of the immutable message bytes: code that tries to
    write into them gets "assignment destination is read-only", and cannot flip them back to
    writeable (the buffer they view is a `bytes` object).
    """

    def __init__(self, buffers, on_handle, readonly: bool = False):
        self.buffers = buffers
        self.objects: list = []
        self._on_handle = on_handle
        self._readonly = readonly

    def node(self, node):
        if node is None or isinstance(node, (bool, str)):
            return node
        if not isinstance(node, dict) or len(node) == 0:
            raise WireError(f"malformed node {node!r:.80}")
        if "a" in node:  # the most common node first
            arr = self._array(node)
            self.objects.append(arr)
            return arr
        if "int" in node:
            return int(node["int"])
        if "float" in node:
            return float(node["float"])
        if "s" in node:
            return self._array(node)[()]
        if "b" in node:
            return bytes(self.buffers[int(node["b"])])
        if "u" in node:
            return bytes(self.buffers[int(node["u"])]).decode("utf-8", "surrogatepass")
        if "t" in node:
            return tuple(self.node(x) for x in node["t"])
        if "sctype" in node or "dtype_obj" in node:
            dtype = np.dtype(str(node.get("sctype", node.get("dtype_obj"))))
            if dtype.kind not in _SAFE_KINDS:
                raise WireError(f"refused dtype {dtype}")
            return dtype.type if "sctype" in node else dtype
        if "h" in node:
            return self._on_handle(node)
        if "ref" in node:
            return self.objects[int(node["ref"])]
        if "l" in node:
            out: list = []
            self.objects.append(out)
            out.extend(self.node(x) for x in node["l"])
            return out
        if "d" in node:
            mapping: dict = {}
            self.objects.append(mapping)
            for key, value in node["d"]:
                mapping[self.node(key)] = self.node(value)
            return mapping
        if "rng" in node:
            gen = _generator_from_state(json.loads(node["rng"]))
            self.objects.append(gen)
            return gen
        raise WireError(f"unknown node {sorted(node)!r:.80}")

    def _array(self, node):
        dtype = _dtype(node["dtype"])
        if dtype.kind not in _SAFE_KINDS or dtype.hasobject:
            raise WireError(f"refused dtype {dtype}")
        shape = tuple(int(n) for n in node["shape"])
        if any(n < 0 for n in shape):
            raise WireError("negative array dimension")
        raw = self.buffers[int(node.get("a", node.get("s")))]
        count = math.prod(shape)
        if len(raw) != count * dtype.itemsize:
            raise WireError("array buffer has the wrong size")
        arr = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)
        return arr if self._readonly else arr.copy()


@functools.lru_cache(maxsize=64)
def _dtype(text: str) -> np.dtype:
    return np.dtype(text)


def _generator_from_state(state: dict) -> np.random.Generator:
    bit_generator = getattr(np.random, str(state.get("bit_generator")), None)
    if not (isinstance(bit_generator, type) and issubclass(bit_generator, np.random.BitGenerator)):
        raise WireError("unknown bit generator")
    gen = np.random.Generator(bit_generator())
    gen.bit_generator.state = state
    return gen


def encode(obj, on_other=None) -> tuple[bytes, list]:
    """Serialise `obj`; returns the message and the pre-order list of its mutable objects.

    Objects of other types go through `on_other(obj) -> node` (default: refuse).
    """
    encoder = Encoder(on_other)
    return encoder.message(obj), encoder.objects


MAX_HEADER_BYTES = 16 * 1024 * 1024  # structure only: array data travels in the buffers


def decode(data: bytes, on_handle=None, readonly: bool = False) -> tuple[object, list]:
    """Inverse of `encode`: returns the object and its pre-order list of mutable objects."""

    def default_handle(node):
        return Handle(int(node["h"]), str(node.get("type", "")), bool(node.get("callable")))

    view = memoryview(data)
    try:
        header_len, n_buffers = struct.unpack_from("<II", view, 0)
        if header_len > MAX_HEADER_BYTES:
            raise WireError(f"header of {header_len} bytes is over the limit")
        pos = 8
        header = json.loads(bytes(view[pos : pos + header_len]))
        pos += header_len
        buffers = []
        for _ in range(n_buffers):
            (size,) = struct.unpack_from("<Q", view, pos)
            pos += 8
            if pos + size > len(view):
                raise WireError("truncated buffer")
            buffers.append(view[pos : pos + size])
            pos += size
        if readonly:  # `bytes`, not a view of a reusable buffer, so nothing can write to it
            buffers = [bytes(b) for b in buffers]
        decoder = Decoder(buffers, on_handle or default_handle, readonly)
        return decoder.node(header), decoder.objects
    except (struct.error, ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
        raise WireError(f"malformed message: {exc}") from None


def send(fd: int, payload: bytes) -> None:
    """Write one length-prefixed message to a file descriptor."""
    import os

    data = struct.pack("<Q", len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def recv(fd: int, wait=None, limit: int = MAX_MESSAGE_BYTES) -> bytearray:
    """Read one length-prefixed message into a single buffer (no second copy).

    `wait(fd)` is called before each read (to enforce a deadline); a message announced
    larger than `limit` is refused before anything is allocated for it."""
    (size,) = struct.unpack("<Q", _read_into(fd, bytearray(8), wait))
    if size > limit:
        raise WireError(f"an answer of {size / 2**20:.0f} MiB is over the {limit >> 20} MiB "
                        "limit")
    return _read_into(fd, bytearray(size), wait)


def _read_into(fd: int, buffer: bytearray, wait) -> bytearray:
    import os

    view, pos = memoryview(buffer), 0
    while pos < len(buffer):
        if wait is not None:
            wait(fd)
        n = os.readv(fd, [view[pos:]])
        if n == 0:
            raise EOFError("the other side closed the connection")
        pos += n
    return buffer
