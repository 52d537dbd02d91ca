"""Run student code in a separate, confined process and talk to it with plain data only."""

from .launch import Limits, SandboxUnavailable
from .process import (
    StudentCrash,
    StudentError,
    StudentNotImplemented,
    StudentTimeout,
    WorkerPool,
)
from .remote import RemoteImplementation, RemoteObject, instrumented_call

__all__ = [
    "Limits",
    "RemoteImplementation",
    "RemoteObject",
    "SandboxUnavailable",
    "StudentCrash",
    "StudentError",
    "StudentNotImplemented",
    "StudentTimeout",
    "WorkerPool",
    "instrumented_call",
]
