"""Figures of the demos: matplotlib without a display, and PNG files that are reproducible."""

from pathlib import Path

DPI = 100


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend (no display needed, works on CI);
    imported when a figure is drawn, so a demo without ``--figures`` never loads it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_png(fig, path):
    """Write ``fig`` as PNG to ``path`` (folders made as needed), close it, return the
    ``Path``. No "Software" entry: the bytes depend only on the picture, not on matplotlib's
    version."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    pyplot().close(fig)
    return path
