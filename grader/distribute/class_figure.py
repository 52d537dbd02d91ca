"""The class report's figure: the most failed checks as horizontal bars (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import matplotlib  # ImportError here tells the report to go without the figure

matplotlib.use("Agg")  # files only: no display needed, none opened

TOP = 15  # bars in the figure


def plot_failures(checks: list, students: int, path: Path, top: int = TOP) -> Path:
    """`checks`: tallies, most failed first (`class_report.most_failed`); bars of the share
    of students who failed each, labelled with the exercise, the check and that share."""
    import matplotlib.pyplot as plt

    shown = [t for t in checks if t.failed][:top]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.4 * max(len(shown), 1)))
    try:
        if shown:
            labels = [f"{t.exercise} {t.name}" + (" (hidden)" if t.hidden else "")
                      for t in shown]
            shares = [100 * t.failed_share for t in shown]
            bars = ax.barh(range(len(shown)), shares, color="#c0504d")
            ax.set_yticks(range(len(shown)), labels, fontsize=9)
            ax.invert_yaxis()  # the most failed at the top
            ax.bar_label(bars, [f"{s:.0f}% ({t.failed})" for s, t in zip(shares, shown)],
                         padding=3, fontsize=8)
        else:
            ax.text(0.5, 0.5, "every check passed for every student", ha="center",
                    va="center", transform=ax.transAxes)
            ax.set_yticks([])
        ax.set_xlim(0, 112)  # room for the labels of a 100% bar
        ax.set_xlabel(f"students who failed the check (% of {students})")
        ax.set_title("Most failed checks")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path
