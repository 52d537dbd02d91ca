"""Text that came from student code, made safe to print and to put in a report.

A terminal obeys escape sequences and a carriage return rewrites the line it is on, so output
of the student's code could recolour, hide or forge lines of the report (`[ok  ]` over a
failure).  `clean` keeps printable text, newlines and tabs, and drops the rest: ANSI escape
sequences, other control characters, and the invisible Unicode that reorders or hides text.
"""

from __future__ import annotations

import re

_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
                        "\u2060-\u2069\ufeff\ufff9-\ufffb]")


def clean(text: str, limit: int | None = None) -> str:
    """`text` without control characters; at most `limit` characters (its start, marked)."""
    text = _INVISIBLE.sub("", _ESCAPES.sub("", str(text).replace("\r\n", "\n")))
    if limit is not None and len(text) > limit:
        text = text[: limit - 20].rstrip() + " ... (cut: too long)"
    return text
