"""Training under ``accelerate launch`` with 2 CPU processes (gloo), against 1 process.

- One fixed rollout (generated once here by the real tiny policy) goes through the optimisation
  step in this process and in 2 processes (each with its half of the prompts, DDP); the gradients
  of every pass (recorded by a real SGD optimiser) and the step's figures must agree for each loss
  aggregation, each advantage scale, per-token (process) advantages, a process with nothing to
  train, and mu = 2 with the KL term and clipping.
- The real ``grpo train`` command under ``accelerate launch``: one metrics row per step, samples
  of the whole batch, evaluation over both shards, and every file under OUT written by the main
  process only (recorded by an audit hook that each launched Python process loads).
- A ``prompts_per_step`` that does not split over the processes, and a launch where accelerate
  set up no process group (each process would train alone), are refused with a clear message.

This file is also the 2-process worker: ``accelerate launch test_distributed.py DATA_DIR``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

GROUP = 4  #: G
MAX_NEW = 6
TOTALS = [0.0, 1.0, 0.5, 0.2, 1.0, 1.0, 0.0, 0.3, 0.1, 0.9, 0.4, 0.4, 0.7, 0.0, 0.0, 1.0]
#: the first two groups (process 0's share) have zero variance: process 0 has nothing to train
IDLE_TOTALS = [0.5] * 4 + [0.2] * 4 + TOTALS[8:]
CASES: dict[str, dict] = {
    **{
        f"{agg}-{scale}": {"aggregation": agg, "scale": scale}
        for agg in ("token", "sequence", "constant")
        for scale in ("group", "batch")
    },
    "process-advantages": {"aggregation": "sequence", "advantages": "process"},
    "idle-process": {"aggregation": "token", "scale": "batch", "totals": IDLE_TOTALS},
    "mu2-kl-clip": {"aggregation": "token", "scale": "batch", "mu": 2, "beta": 0.1, "clip": 0.05},
}
FIGURES = ("loss", "grad_norm", "entropy", "clip_frac_low", "clip_frac_high", "ratio_mean")


# -- the launcher --------------------------------------------------------------------------------


def accelerate_launch(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``accelerate launch`` with 2 CPU processes. ``--cpu`` alone starts one process (the
    simple launcher needs mpirun for more); ``--multi_gpu`` starts them through torchrun and
    ``ACCELERATE_USE_CPU=1`` makes accelerate pick MULTI_CPU with gloo."""
    command = [
        str(Path(sys.executable).parent / "accelerate"), "launch", "--multi_gpu",
        "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", "--main_process_port", "0", *args,
    ]  # fmt: skip
    environment = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=900
    )


# -- the fixed rollout and the optimisation cases (run by both sides) ----------------------------


def write_rollout(model_path: Path, data_dir: Path) -> None:
    """4 prompts x G sampled completions of the real policy, saved with the policy's path."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from grpo_core.training.rollout import Rollout
    from grpo_core.training.sampling import SamplingParams, encode_prompts, generate, repeat_prompts

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path)
    rows = [{"prompt": p} for p in ("12+7=", "3+45=", "60+8=", "9+99=")]
    prompts = encode_prompts(tokenizer, rows)
    torch.manual_seed(0)
    completions = generate(model, tokenizer, prompts, SamplingParams(MAX_NEW), GROUP)
    expanded = [r for r in rows for _ in range(GROUP)]
    rollout = Rollout(expanded, repeat_prompts(prompts, GROUP), completions, GROUP)
    torch.save({"rollout": rollout, "model": str(model_path)}, data_dir / "rollout.pt")


def share(rollout, part: slice):
    from grpo_core.training.rollout import Rollout
    from grpo_core.training.sampling import Completions, Prompts

    p, c = rollout.prompts, rollout.completions
    return Rollout(
        rollout.rows[part],
        Prompts(p.ids[part], p.mask[part], p.truncated),
        Completions(c.ids[part], c.mask[part], c.texts[part], c.truncated[part]),
        rollout.group_size,
    )


def case_advantages(accelerator, case: dict, rollout, part: slice) -> torch.Tensor:
    """This process's advantages: outcome ones over the whole batch's rewards (the trainer's
    path under several processes; the plain function in one process), or per-token ones."""
    from grpo_core.advantages import outcome_advantages, process_advantages
    from grpo_core.training import distributed

    if case.get("advantages") == "process":
        size, width = rollout.size, rollout.completions.ids.shape[1]
        steps = [[float(i % 3), float((i * 7) % 5) / 4] for i in range(size)]
        ends = [[1, 4] for _ in range(size)]
        return process_advantages(steps, ends, GROUP, width)[part]
    totals = torch.tensor(case.get("totals", TOTALS))
    scale = case["scale"]
    if accelerator.num_processes == 1:
        return outcome_advantages(totals, GROUP, scale=scale)
    return distributed.outcome_advantages(
        accelerator, totals[part], GROUP, scale=scale, std="population"
    )


class RecordingSGD(torch.optim.SGD):
    """Plain SGD that keeps a copy of the (synchronised, clipped) gradient of every step."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.seen: list[torch.Tensor] = []

    def step(self, closure=None):
        params = [p for g in self.param_groups for p in g["params"]]
        self.seen.append(torch.cat([p.grad.detach().flatten().clone() for p in params]))
        return super().step(closure)


def run_cases(accelerator, data_dir: Path) -> dict[str, dict]:
    """Every case's per-pass gradients and figures on this process's share of the rollout."""
    from transformers import AutoModelForCausalLM

    from grpo_core.training import distributed, optimize
    from grpo_core.training.reference import ReferencePolicy

    data = torch.load(data_dir / "rollout.pt", weights_only=False)
    rollout = data["rollout"]
    prompts = distributed.shard(accelerator, rollout.size // GROUP)
    part = slice(prompts.start * GROUP, prompts.stop * GROUP)
    local = share(rollout, part)
    model = AutoModelForCausalLM.from_pretrained(data["model"])
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    wrapped = accelerator.prepare(model)
    out = {}
    for name, case in CASES.items():
        accelerator.unwrap_model(wrapped).load_state_dict(initial)
        optimizer = RecordingSGD(wrapped.parameters(), lr=1e-2)
        settings = optimize.PassSettings(
            mu=case.get("mu", 1), micro_batch_size=3, temperature=1.0, epsilon=0.2,
            epsilon_high=None, clip_ratio_c=None, kl="k3", aggregation=case["aggregation"],
            max_length=MAX_NEW, max_grad_norm=case.get("clip"),
        )  # fmt: skip
        ref = None
        if case.get("beta"):
            chunks = optimize.micro_batches(torch.arange(local.size), 3)
            ref = ReferencePolicy(accelerator.unwrap_model(wrapped)).logprobs(local, chunks, 1.0)
        adv = case_advantages(accelerator, case, rollout, part)
        figures = optimize.optimise(
            wrapped, optimizer, accelerator, local, adv, settings,
            beta=case.get("beta", 0.0), ref_logprobs=ref,
        )  # fmt: skip
        out[name] = {"grads": optimizer.seen, "figures": figures}
    return out


def _worker(data_dir: Path) -> None:
    """The 2-process side (``accelerate launch`` runs this file)."""
    from accelerate import Accelerator

    torch.set_num_threads(1)
    accelerator = Accelerator()
    results = run_cases(accelerator, data_dir)
    if accelerator.is_main_process:
        torch.save(
            {
                "cases": results,
                "processes": accelerator.num_processes,
                "type": str(accelerator.distributed_type),
            },
            data_dir / "two.pt",
        )
    accelerator.end_training()


@pytest.fixture(scope="module")
def both(model_path, tmp_path_factory):
    """The cases in 1 process (here) and in 2 (``accelerate launch``)."""
    from accelerate import Accelerator

    data_dir = tmp_path_factory.mktemp("dist")
    write_rollout(model_path, data_dir)
    one = run_cases(Accelerator(), data_dir)
    result = accelerate_launch([__file__, str(data_dir)], cwd=data_dir)
    assert result.returncode == 0, result.stderr[-4000:]
    two = torch.load(data_dir / "two.pt", weights_only=False)
    assert two["processes"] == 2 and two["type"] == "DistributedType.MULTI_CPU"
    return one, two["cases"]


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_two_processes_give_the_single_process_gradient(both, case):
    one, two = both[0][case], both[1][case]
    assert len(one["grads"]) == len(two["grads"]) == CASES[case].get("mu", 1)
    for single, double in zip(one["grads"], two["grads"], strict=True):
        difference = float((single - double).abs().max())
        print(f"{case}: max |grad| {float(single.abs().max()):.3e}, max diff {difference:.2e}")
        assert float(single.abs().max()) > 1e-3  # a real gradient, not all zeros
        assert difference < 1e-5
    for key in FIGURES:
        assert two["figures"][key] == pytest.approx(one["figures"][key], rel=1e-5, abs=1e-7), key
    for key in ("trained_sequences", "updates", "skipped"):
        assert two["figures"][key] == one["figures"][key], key
    if case == "mu2-kl-clip":
        assert one["figures"]["kl_mean"] > 0  # the second pass moved away from pi_ref
        assert two["figures"]["kl_mean"] == pytest.approx(one["figures"]["kl_mean"], rel=1e-4)
    if case == "idle-process":
        assert one["figures"]["trained_sequences"] == 8  # only the second process's share


# -- the real command ------------------------------------------------------------------------

SCHEME = """\
verifiers:
  arithmetic: 1.0
  length: {weight: 1.0, options: {max_length: 6, buffer: 6, unit: chars}}
workers: 0
"""

#: loaded by every Python process of the launch (PYTHONPATH): records the files it opens for
#: writing under GRPO_TEST_WATCH, with its RANK, into GRPO_TEST_LOGS/<pid>.json at exit
SITECUSTOMIZE = """\
import atexit, json, os, sys

_watch, _logs = os.environ["GRPO_TEST_WATCH"], os.environ["GRPO_TEST_LOGS"]
_writes = set()

def _hook(event, args):
    if event != "open" or not isinstance(args[1], str) or not set(args[1]) & set("wax+"):
        return
    try:
        path = os.path.abspath(os.fspath(args[0]))
    except TypeError:
        return
    if path.startswith(_watch + os.sep):
        _writes.add(path)

def _dump():
    record = {"rank": os.environ.get("RANK"), "writes": sorted(_writes)}
    with open(os.path.join(_logs, f"{os.getpid()}.json"), "w") as f:
        json.dump(record, f)

sys.addaudithook(_hook)
atexit.register(_dump)
"""


def train_args(model_path: Path, out: Path, scheme: Path, **overrides: str) -> list[str]:
    values = {
        "model": str(model_path), "suite": "arithmetic",
        "suite_options": "{train_rows: 64, test_rows: 9}", "scheme": str(scheme),
        "out": str(out), "steps": "2", "prompts_per_step": "4", "group_size": "4",
        "max_new_tokens": "5", "temperature": "1.5", "eval_every": "1", "samples_every": "1",
        "samples_per_write": "100", "progress": "false", "report_to": "none", "lr": "1e-2",
        "threads": "1", **overrides,
    }  # fmt: skip
    return ["-m", "rewards", "train", *[x for k, v in values.items() for x in (f"--{k}", v)]]


@pytest.mark.slow
def test_grpo_train_under_accelerate_launch(tmp_path, model_path):
    from transformers import AutoModelForCausalLM

    out, logs, site = tmp_path / "run", tmp_path / "writes", tmp_path / "site"
    logs.mkdir()
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (tmp_path / "scheme.yaml").write_text(SCHEME)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    result = accelerate_launch(
        train_args(model_path, out, tmp_path / "scheme.yaml"), cwd=tmp_path,
        PYTHONPATH=path, GRPO_TEST_WATCH=str(out), GRPO_TEST_LOGS=str(logs),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    assert [r["step"] for r in rows] == [0, 1, 2]  # one row per step
    assert all(r["heldout_accuracy"] is not None for r in rows)
    assert result.stdout.count("step 0: held-out accuracy") == 1  # echoed by the main only
    assert "on 9 rows" in result.stdout  # both processes' evaluation shares (5 + 4 rows)
    samples = [json.loads(line) for line in (out / "samples.jsonl").open()]
    # each process sampled 2 prompts x 4; the log holds the whole batch of 16 per step
    assert [s["index"] for s in samples] == list(range(16)) * 2
    assert len({s["prompt"] for s in samples[:16]}) == 4
    assert json.loads((out / "summary.json").read_text())["steps"] == 2
    assert AutoModelForCausalLM.from_pretrained(out / "final").config.hidden_size == 32
    records = [json.loads(p.read_text()) for p in logs.glob("*.json")]
    workers = {r["rank"]: r for r in records if r["rank"] is not None}
    assert sorted(workers) == ["0", "1"]
    assert not any(r["writes"] for r in records if r["rank"] != "0")
    written = {Path(p).relative_to(out).as_posix() for p in workers["0"]["writes"]}
    expected = {
        "metrics.jsonl",
        "samples.jsonl",
        "config.yaml",
        "summary.json",
        "final/config.json",
    }
    assert expected <= written


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "env", "message"),
    [
        (
            {"prompts_per_step": "3"},
            {},
            "prompts_per_step=3 must be divisible by the number of processes (2)",
        ),
        (  # without it accelerate sees no GPU and would start two lone trainings
            {},
            {"ACCELERATE_USE_CPU": "0"},
            "launched as 2 processes (WORLD_SIZE=2) but accelerate set up no process group",
        ),
    ],
    ids=["prompts-not-divisible", "no-process-group"],
)
def test_bad_launches_are_refused_before_training(tmp_path, model_path, overrides, env, message):
    (tmp_path / "scheme.yaml").write_text(SCHEME)
    args = train_args(model_path, tmp_path / "run", tmp_path / "scheme.yaml", **overrides)
    result = accelerate_launch(args, cwd=tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
