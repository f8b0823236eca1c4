"""TRL's ``GRPOTrainer`` on grpokit's rows, reward scheme and held-out evaluator, instrumented.

Shared by the head-to-head benchmarks (bench_default_train.py, bench_vs_trl.py); each runs TRL in
its own process. What is shared with the grpokit side, so that only the trainers differ:

- the task rows (``arithmetic_task``) and the reward: TRL's reward function is the suite's own
  ``RewardScheme`` applied to the full task rows (eq. 6.1, the same totals grpokit trains on);
- the held-out evaluation: ``grpo_core.training.evaluation.evaluate`` (greedy) on the same rows
  (``heldout_evaluator``), its time kept out of the step timings.

Timing of TRL (``StepClock``): a step's wall time runs from the end of the previous step's
callbacks (after any held-out evaluation) to ``on_step_end``, so it holds everything the Trainer
does for the step (batch fetch, generation, rewards, loss, backward, optimiser). Its split wraps
three of TRL's own methods on the instance: ``_generate`` (tokenise, ``model.generate``,
decode) = generation, ``_calculate_rewards`` = scoring, ``_generate_and_score_completions``
minus those two = "other preparation" (advantages, metrics, gathers), and the rest of the step =
optimisation (forward, loss, backward, clipping, optimiser step).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grpo_core.training.evaluation import evaluate
from grpo_core.training.metrics import process_age
from rewards import get_plugins
from rewards.scheme import RewardScheme

EVAL_ROWS = 500


@dataclass
class Task:
    train: list[dict]
    test: list[dict]
    scheme: RewardScheme  #: the suite's default scheme (inline scoring)


def arithmetic_task(seed: int, eval_rows: int = EVAL_ROWS) -> Task:
    """The ``arithmetic`` suite's rows and default reward scheme, as ``grpo train`` builds them."""
    suite = get_plugins().suite("arithmetic")
    train = suite.rows("train", seed=seed)
    test = suite.rows("test", seed=seed, limit=eval_rows)
    return Task(train, test, RewardScheme.from_config(suite.default_scheme()))


def peak_rss_mb() -> float:
    """This process's resident-set high-water mark (ru_maxrss, KiB on Linux) in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def heldout_evaluator(
    tokenizer: Any, task: Task, max_new_tokens: int
) -> Callable[[Any], tuple[float, float]]:
    """``model -> (greedy held-out accuracy, seconds)`` on the task's test rows."""

    def run(model: Any) -> tuple[float, float]:
        was = model.training
        result = evaluate(model, tokenizer, task.test, task.scheme, max_new_tokens=max_new_tokens)
        model.train(was)
        return float(result.accuracy), result.seconds

    return run


class SchemeReward:
    """TRL reward function: the reward scheme's totals on the rows named by the ``row`` column;
    keeps each call's mean (one call per step: the step's reward)."""

    __name__ = "scheme"

    def __init__(self, task: Task) -> None:
        self.task = task
        self.means: list[float] = []

    def __call__(self, prompts: list, completions: list[str], row: list[int], **_: Any) -> list:
        totals = self.task.scheme.score(completions, [self.task.train[i] for i in row]).totals
        self.means.append(sum(totals) / len(totals))
        return totals

    def dataset(self) -> Any:
        from datasets import Dataset

        return Dataset.from_list(
            [{"prompt": r["prompt"], "row": i} for i, r in enumerate(self.task.train)]
        )


def build_trainer(model_path: str, task: Task, reward: SchemeReward, **settings: Any) -> Any:
    """A ``GRPOTrainer`` on CPU with logging, saving and progress bars off; ``settings`` are
    ``GRPOConfig`` fields."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    config = GRPOConfig(
        logging_strategy="no",
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        **settings,
    )
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path)
    return GRPOTrainer(
        model=model, reward_funcs=[reward], args=config, train_dataset=reward.dataset(),
        processing_class=tokenizer,
    )  # fmt: skip


@dataclass
class Evaluation:
    step: int
    accuracy: float
    process_age: float  #: seconds since process start when it finished
    train_seconds: float  #: step wall time summed up to here (evaluations excluded)


def step_clock(trainer: Any, evaluator: Callable, eval_every: int, stop_gain: float | None) -> Any:
    """Install a ``StepClock`` on ``trainer`` (see the module docstring) and return it."""
    clock = StepClock(evaluator, eval_every, stop_gain)
    for key, method in (
        ("generation", "_generate"),
        ("scoring", "_calculate_rewards"),
        ("prepare", "_generate_and_score_completions"),
    ):
        setattr(trainer, method, clock.timed(key, getattr(trainer, method)))
    trainer.add_callback(clock)
    return clock


def _callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


class StepClock(_callback_base()):
    """Per-step wall time and split of a TRL run, held-out evaluations every ``eval_every``
    steps (timed apart), optional early stop once accuracy gains ``stop_gain`` over step 0."""

    def __init__(self, evaluator: Callable, eval_every: int, stop_gain: float | None) -> None:
        self.evaluator, self.eval_every, self.stop_gain = evaluator, eval_every, stop_gain
        self.current = {"generation": 0.0, "scoring": 0.0, "prepare": 0.0}
        self.steps: list[dict[str, float]] = []
        self.evaluations: list[Evaluation] = []
        self.eval_seconds = 0.0
        self.train_seconds = 0.0
        self.hit: Evaluation | None = None
        self.began = 0.0  #: process age when training began (before the step-0 evaluation)
        self._mark = 0.0

    def timed(self, key: str, method: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.current[key] += time.perf_counter() - start

        return wrapper

    def _evaluate(self, step: int, model: Any) -> Evaluation:
        start = time.perf_counter()
        accuracy, _ = self.evaluator(model)
        self.eval_seconds += time.perf_counter() - start
        result = Evaluation(step, accuracy, process_age(), self.train_seconds)
        self.evaluations.append(result)
        return result

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.began = process_age()
        self._evaluate(0, model)
        self._mark = time.perf_counter()

    def on_step_end(self, args, state, control, model=None, **kwargs):
        wall = time.perf_counter() - self._mark
        self.train_seconds += wall
        c = self.current
        self.steps.append(
            {
                "wall": wall,
                "generation": c["generation"],
                "scoring": c["scoring"],
                "other": c["prepare"] - c["generation"] - c["scoring"],
                "optimisation": wall - c["prepare"],
            }
        )
        self.current = dict.fromkeys(c, 0.0)
        step = state.global_step
        if self.eval_every and (step % self.eval_every == 0 or step == state.max_steps):
            result = self._evaluate(step, model)
            gained = result.accuracy >= self.evaluations[0].accuracy + (self.stop_gain or 0) - 1e-9
            if self.stop_gain is not None and gained and self.hit is None:
                self.hit = result
                control.should_training_stop = True
        self._mark = time.perf_counter()
        return control
