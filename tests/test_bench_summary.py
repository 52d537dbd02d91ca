"""`python -m demos bench_summary`, the table that ends `make bench`: every speed goal with
its value before and now, met or missed, from the recordings in a temporary folder (the
benches themselves are too slow for a test)."""

import json
import subprocess
import sys

from columns import long_lines
from conftest import REPO

from demos import bench_summary as summary


def record_all_but_test(directory):
    """Recordings of the three benches, as after a `make bench`."""
    summary.record("bpe", [summary.goal_row("bpe-512", 0.9, before=18.0),
                           summary.goal_row("bpe-2048", 1.4, before=70.0)],
                   note="medians of 3 rounds", directory=directory)
    summary.record("decode", [summary.goal_row("prefill", 1.2, before=0.7),
                              summary.goal_row("decode", 0.74, before=0.72)],
                   directory=directory)
    summary.record("train", [summary.goal_row(f"train-{name}", ratio)
                             for name, ratio in (("demo", 1.1), ("medium", 0.85),
                                                 ("vocab-2k", 0.9))],
                   note="2 threads", directory=directory)


def row_of(text, what):
    """The cells of the table's row that starts with ``what``: goal, before, now, target,
    met or not."""
    line = next(line for line in text.splitlines() if line.startswith(f"| {what}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_a_recording_holds_its_rows_and_the_machine(tmp_path):
    path = summary.record("bpe", [summary.goal_row("bpe-512", 1.24, before=16.3)],
                          directory=tmp_path)
    data = json.loads(path.read_text())
    assert path == tmp_path / "bpe.json" and data["name"] == "bpe"
    (row,) = data["rows"]
    assert row["what"] == "BPE 512: train_bpe / tokenizers"
    assert (row["before"], row["before_how"], row["now"]) == ("16x", "measured", "1.24x")
    assert row["goal"] == "<= 4x" and row["met"] is True
    assert set(data["machine"]) >= {"cpu", "cores", "load_average", "date"}


def test_the_table_fits_80_columns_and_says_met_or_missed(tmp_path):
    record_all_but_test(tmp_path)
    text = summary.format_summary(summary.load(tmp_path))
    assert not long_lines(text) and max(map(len, text.splitlines())) <= 80, text
    assert row_of(text, "BPE 512") == ["BPE 512: train_bpe / tokenizers", "18x", "0.90x",
                                       "<= 4x", "met"]
    assert row_of(text, "prefill")[1:] == ["0.70x", "1.20x", ">= 1.0x", "met"]
    assert row_of(text, "KV-cached decoding")[1:] == ["72%", "74%", ">= 85%", "MISSED"]
    # nothing to time the training step against side by side: the value recorded before
    assert row_of(text, "train demo")[1:] == ["0.80x*", "1.10x", ">= 1.0x", "met"]
    assert "# * recorded, 2026-11, AMD EPYC 2 cores: train-demo, train-medium, #" \
        in " ".join(text.split())  # a comment, folded
    assert "goals met: 4 of 8; missed: decode, train-medium, train-vocab-2k; " \
        "not measured: 1" in text


def test_missing_recordings_say_how_to_measure_them(tmp_path):
    (tmp_path / "decode.json").write_text("{not json")  # unreadable: as if missing
    (tmp_path / "train.json").write_text('{"name": "train"}')
    text = summary.format_summary(summary.load(tmp_path))
    assert max(map(len, text.splitlines())) <= 80
    assert "decode: not measured: run make bench BENCH=decode" in text
    assert "test: not measured: run make test" in text
    assert row_of(text, "make test")[1:] == ["5.3 min*", "-", "<= 3 min", "-"]
    assert "goals met: 0 of 8; not measured: 8" in text
    # a partial recording (one vocabulary size) names the goal it left out
    summary.record("bpe", [summary.goal_row("bpe-512", 1.0, before=None)],
                   directory=tmp_path)
    text = summary.format_summary(summary.load(tmp_path))
    assert row_of(text, "BPE 512")[1] == "16x*"  # --no-naive: the recorded value
    assert "not measured: bpe-2048: run make bench BENCH=bpe" in " ".join(text.split())


def test_an_earlier_recording_keeps_its_date(tmp_path):
    record_all_but_test(tmp_path)
    old = json.loads((tmp_path / "train.json").read_text())
    old["machine"].update(date="2026-01-02 03:04", time=1.0)
    (tmp_path / "train.json").write_text(json.dumps(old))
    text = summary.format_summary(summary.load(tmp_path), since=2.0)
    assert "train: 2026-01-02 03:04 (before the last make bench): " in text
    assert " (last make bench): " in text.split("\ndecode: ", 1)[1]


def test_another_thread_count_is_neither_met_nor_missed(tmp_path):
    summary.record("train", [summary.goal_row("train-demo", 1.5, comparable=False)],
                   directory=tmp_path)
    text = summary.format_summary(summary.load(tmp_path))
    assert row_of(text, "train demo")[-1] == "n/a"
    assert "n/a (at another thread count): 1" in text


def test_make_test_records_its_time_and_the_command_prints_the_table(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "demos", "bench_summary", "--dir",
                               str(tmp_path), *args], cwd=REPO, capture_output=True,
                              text=True, timeout=60)

    done = run("--record-test", "150")
    assert done.returncode == 0, done.stderr
    assert "make test: 2.5 min (goal <= 3 min: met)" in done.stdout
    assert run("--start").returncode == 0 and (tmp_path / summary.START).exists()
    done = run()
    assert done.returncode == 0, done.stderr
    assert row_of(done.stdout, "make test")[1:] == ["5.3 min*", "2.5 min", "<= 3 min", "met"]
    assert "\ntest: " in done.stdout and "the two pytest runs" in " ".join(done.stdout.split())
    assert not long_lines(done.stdout + done.stderr)
    assert "\033[" not in done.stdout
