"""``grpo plot``: the curves of a real (short) ``grpo train`` run as a PNG; panels and summary;
bad input named by file and line; no torch import."""

from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
import sys

import pytest

from grpo_core.commands.plot import (
    MetricsFileError,
    build_figure,
    read_metrics,
    summarise,
    trailing_mean,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """OUT of a 4-step grpo train run with a KL term and held-out evaluations every 2 steps."""
    from grpo_core.training.config import build_config
    from grpo_core.training.tiny_model import TinyModelSpec, build_model, build_tokenizer
    from grpo_core.training.trainer import Trainer

    base = tmp_path_factory.mktemp("policy")
    tokenizer = build_tokenizer()
    build_model(TinyModelSpec(layers=1, hidden=32, heads=2, intermediate=64), tokenizer, 0)\
        .save_pretrained(base)  # fmt: skip
    tokenizer.save_pretrained(base)
    out = tmp_path_factory.mktemp("run")
    values = {
        "model": str(base), "out": str(out), "suite": "arithmetic",
        "suite_options": {"train_rows": 64, "test_rows": 8}, "steps": 4, "prompts_per_step": 4,
        "group_size": 4, "beta": 0.1, "eval_every": 2, "eval_rows": 8, "samples_every": 0,
        "progress": False, "report_to": "none", "save_final": False, "lr": 1e-3,
    }  # fmt: skip
    Trainer(build_config(values), log=lambda m: None).run()
    return out


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def panel_texts(fig, index: int) -> str:
    return " ".join(t.get_text() for t in fig.axes[index].texts)


def test_plot_of_a_real_run_writes_a_png(run_dir, grpo):
    result = grpo("plot", run_dir)
    assert result.exit_code == 0, result.output
    png = run_dir / "curves.png"
    assert f"wrote {png} (4 steps; held-out accuracy" in result.output
    assert png_size(png) == (1500, 850)
    assert png.stat().st_size > 30_000  # drawn curves and text, not an empty canvas

    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels[..., :3].std() > 0.05  # ink on the white background
    assert len({tuple(p) for p in pixels[::7, ::7, :3].reshape(-1, 3).tolist()}) > 50  # colours


def test_panels_show_the_logged_series(run_dir):
    metrics = read_metrics(run_dir)
    summary = summarise(metrics, run_dir / "x.png", window=1)
    assert [s for s, _ in summary.heldout] == [0, 2, 4]
    assert summary.steps == 4 and summary.last_step == 4 and summary.since_start > 0
    fig = build_figure(metrics, summary)
    reward, accuracy, kl, entropy, length, text = fig.axes[:6]
    labels = {line.get_label() for line in reward.lines}
    assert {"mean (sampled)", "arithmetic", "arithmetic_digits", "held-out (greedy)"} <= labels
    held = next(line for line in accuracy.lines if line.get_label() == "held-out (greedy)")
    assert list(held.get_xdata()) == [0, 2, 4]
    assert list(held.get_ydata()) == [a for _, a in summary.heldout]
    kl_line = next(line for line in kl.lines if line.get_label() == "KL estimate")
    assert list(kl_line.get_xdata()) == [1, 2, 3, 4]
    assert "beta = 0.1" in panel_texts(fig, 2)
    assert "held-out accuracy:" in panel_texts(fig, 5)


def test_without_a_kl_term_the_panel_says_so(run_dir, tmp_path):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        row["kl"], row["beta"] = None, 0.0
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    metrics = read_metrics(tmp_path)
    fig = build_figure(metrics, summarise(metrics, tmp_path / "x.png", window=1))
    assert "no KL term (beta = 0)" in panel_texts(fig, 2)


def test_out_option_and_smoothing(run_dir, grpo, tmp_path):
    out = tmp_path / "sub" / "curves.png"
    result = grpo("plot", run_dir, "--out", out, "--smooth", 3)
    assert result.exit_code == 0, result.output
    assert png_size(out) == (1500, 850)
    assert grpo("plot", run_dir, "--smooth", 0).exit_code == 2


def test_trailing_mean_uses_only_past_finite_points():
    assert trailing_mean([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert trailing_mean([1.0, 3.0], 1) == [1.0, 3.0]
    out = trailing_mean([math.nan, 2.0, math.nan], 2)
    assert math.isnan(out[0]) and out[1:] == [2.0, 2.0]


def test_non_finite_values_written_as_text_are_read(tmp_path):
    rows = [{"step": 1, "reward_mean": "nan"}, {"step": 2, "reward_mean": 0.5}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    steps, values = read_metrics(tmp_path).series("reward_mean")
    assert steps == [1, 2] and math.isnan(values[0]) and values[1] == 0.5


def test_a_step_logged_twice_keeps_its_last_row(tmp_path):
    rows = [{"step": 0}, {"step": 1, "entropy": 1.0}, {"step": 2, "entropy": 2.0},
            {"step": 2, "entropy": 3.0}, {"step": 3, "entropy": 4.0}]  # fmt: skip
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    metrics = read_metrics(tmp_path)
    assert metrics.series("entropy") == ([1, 2, 3], [1.0, 3.0, 4.0])
    assert metrics.lines == [1, 2, 4, 5]


def test_malformed_line_is_named_with_its_number(run_dir, grpo, tmp_path):
    (tmp_path / "run").mkdir()
    path = tmp_path / "run" / "metrics.jsonl"
    shutil.copy(run_dir / "metrics.jsonl", path)
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:40]  # a line cut short, as by a crash mid-write
    path.write_text("\n".join(lines) + "\n")
    result = grpo("plot", tmp_path / "run")
    assert result.exit_code == 2
    assert f"{path}, line 3: not valid JSON" in result.output
    assert not (tmp_path / "run" / "curves.png").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty: the run logged no step"),
        ("\n\n", "is empty: the run logged no step"),
        ('{"step": 0}\n[1, 2]\n', "line 2: expected a JSON object"),
        ('{"step": 0}\n{"reward_mean": 1}\n', "line 2: no integer 'step'"),
        ('{"step": 1, "reward_mean": "high"}\n', "line 1: 'reward_mean' is not a number"),
    ],
)
def test_bad_metrics_files(tmp_path, grpo, content, message):
    (tmp_path / "metrics.jsonl").write_text(content)
    result = grpo("plot", tmp_path)
    assert result.exit_code == 2
    assert message in result.output and str(tmp_path / "metrics.jsonl") in result.output


def test_missing_directory_and_file(tmp_path, grpo):
    result = grpo("plot", tmp_path / "nope")
    assert result.exit_code == 2 and "does not exist" in result.output
    result = grpo("plot", tmp_path)
    assert result.exit_code == 2 and f"{tmp_path / 'metrics.jsonl'} does not exist" in result.output
    with pytest.raises(MetricsFileError, match="does not exist"):
        read_metrics(tmp_path)


def test_grpo_plot_does_not_import_torch(run_dir, tmp_path):
    code = (
        "import sys\n"
        "from rewards.cli import cli\n"
        "from rewards.plugins import get_plugins\n"
        "get_plugins().add_commands(cli)\n"
        f"cli(['plot', {str(run_dir)!r}, '--out', {str(tmp_path / 'c.png')!r}],"
        " standalone_mode=False)\n"
        "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "c.png").exists()
