"""Run student code in a separate process and talk to it with plain data only."""

from .remote import (
    RemoteImplementation,
    RemoteObject,
    StudentCrash,
    StudentError,
    StudentNotImplemented,
    StudentTimeout,
    WorkerPool,
    instrumented_call,
)

__all__ = [
    "RemoteImplementation",
    "RemoteObject",
    "StudentCrash",
    "StudentError",
    "StudentNotImplemented",
    "StudentTimeout",
    "WorkerPool",
    "instrumented_call",
]
