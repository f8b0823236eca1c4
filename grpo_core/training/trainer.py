"""The GRPO trainer: Algorithm 1 (textbook ch. 6) on a Hugging Face causal LM with accelerate.

Each outer step reads like the algorithm::

    every M steps: pi_ref <- pi_theta                       line 3  (only if the KL term is on)
    rows     = sample_prompts()                             line 5
    rollout  = sample(rows)          pi_old = pi_theta      lines 6-7 (G completions per prompt)
    rewards  = score(rollout)                               line 8  (RewardScheme, eq. 6.1)
    adv      = advantages(rollout, rewards)                 line 9  (eq. 3.3-3.5 or 3.6-3.7)
    figures  = optimise(rollout, adv)                       lines 10-11 (mu passes of eq. 3.1)

A step where every group has zero reward variance makes no update and is logged with
``skipped: true``. Everything that changes during training lives in ``TrainState``
(grpo_core.training.state: policy, optimiser, schedule, reference, KL controller, prompt cursor,
RNG, evaluation history): what a checkpoint saves and a resume restores
(grpo_core.training.checkpoint, grpo_core.training.resume). Under ``accelerate launch`` (several
processes) each process takes whole prompt groups, generates and scores them, and the loss normaliser,
batch-wide advantages, metrics and evaluation are combined over the processes
(grpo_core.training.distributed); only the main process writes files.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grpo_core.kl import AdaptiveKLController
from grpo_core.training import checkpoint, distributed, optimize, overlap, resume, trackers
from grpo_core.training import rollout as rollout_mod
from grpo_core.training.config import TrainConfig, to_yaml
from grpo_core.training.evaluation import EvalResult, evaluate
from grpo_core.training.metrics import LogPosition, RunLog, process_age, rollout_metrics
from grpo_core.training.policy import completion_budget, load_policy, resolve_scheme, suite_rows
from grpo_core.training.reference import ReferencePolicy
from grpo_core.training.rollout import Rewards, Rollout
from grpo_core.training.sampling import (
    SamplingParams,
    encode_prompts,
    generate,
    prompt_budget,
    repeat_prompts,
)
from grpo_core.training.state import TrainState


@dataclass
class TrainResult:
    out: Path
    initial: EvalResult | None
    final: EvalResult | None
    steps: int
    grpo_seconds: float
    history: list[tuple[int, float]]  #: (step, held-out accuracy) at each evaluation
    policy_info: dict[str, Any]


class Trainer:
    """Set up once from a ``TrainConfig``; ``run()`` trains and returns a ``TrainResult``."""

    def __init__(self, cfg: TrainConfig, *, log: Any = print, plugins: Any = None) -> None:
        """``plugins``: the rewards plugin manager to take the suite and verifiers from
        (default: the process-wide one, built-ins plus installed plugins)."""
        from accelerate import Accelerator

        self.cfg, self.log = cfg, log
        self._run_log: RunLog | None = None
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.train_rows, self.test_rows, suite = suite_rows(cfg, plugins)
        self.scheme = resolve_scheme(cfg, suite, plugins)
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.resume_from = resume.resume_point(cfg, self.out, log)  # before config.yaml
        self.accelerator = Accelerator(
            log_with=trackers.requested(cfg.report_to), project_dir=str(self.out),
            step_scheduler_with_optimizer=False,  # one schedule step per outer step, any P
        )  # fmt: skip
        distributed.check_setup(self.accelerator, cfg.prompts_per_step)
        distributed.seed_process(self.accelerator, cfg.seed)  # sampling RNG: seed + rank
        if self.accelerator.is_main_process:
            (self.out / "config.yaml").write_text(to_yaml(cfg))
        tracked = {k: v for k, v in vars(cfg).items() if isinstance(v, int | float | str | bool)}
        self.accelerator.init_trackers("grpo", config=tracked)
        if self.accelerator.is_main_process:  # trackers run on the main process only
            trackers.check_started(cfg.report_to, self.accelerator)
        if self.accelerator.is_main_process:
            for path in checkpoint.remove_incomplete(self.out):
                log(f"removed incomplete checkpoint {path}")
        with self.accelerator.main_process_first():  # builds the embedded default once
            policy, self.tokenizer, self.policy_info = load_policy(cfg, log, suite)
        self.state = self._initial_state(policy)
        self.max_new_tokens = completion_budget(cfg, self.train_rows, policy)
        if cfg.max_new_tokens is None:
            log(f"max_new_tokens: {self.max_new_tokens} (automatic)")
        self.budget = prompt_budget(policy, self.max_new_tokens, cfg.max_prompt_length)
        self.params = SamplingParams(self.max_new_tokens, cfg.temperature, cfg.top_p, cfg.top_k)
        self.pass_settings = optimize.PassSettings(
            mu=cfg.mu,
            micro_batch_size=cfg.micro_batch_size,
            temperature=cfg.temperature,
            epsilon=cfg.epsilon,
            epsilon_high=cfg.epsilon_high,
            clip_ratio_c=cfg.clip_ratio_c,
            kl=cfg.kl,
            aggregation=cfg.aggregation,
            max_length=self.max_new_tokens,
            max_grad_norm=cfg.max_grad_norm,
        )
        self._resume_logs: LogPosition | None = None
        if self.resume_from is not None:  # last: it sets the RNGs
            self._resume_logs = checkpoint.restore(self.resume_from, self.state, self.accelerator)

    def _initial_state(self, policy: Any) -> TrainState:
        from transformers import get_scheduler

        cfg = self.cfg
        optimizer = torch.optim.AdamW(
            policy.parameters(),
            lr=cfg.lr,
            betas=(cfg.adam_beta1, cfg.adam_beta2),
            weight_decay=cfg.weight_decay,
        )
        scheduler = get_scheduler(
            cfg.lr_schedule,
            optimizer,
            num_warmup_steps=cfg.warmup_steps,
            num_training_steps=cfg.steps,
        )
        policy, optimizer, scheduler = self.accelerator.prepare(policy, optimizer, scheduler)
        kl_on = cfg.beta > 0 or cfg.kl_target is not None
        reference = ReferencePolicy(self.accelerator.unwrap_model(policy)) if kl_on else None
        controller = None
        if cfg.kl_target is not None:
            controller = AdaptiveKLController(cfg.beta, cfg.kl_target, cfg.kl_horizon)
        generator = torch.Generator().manual_seed(cfg.seed)
        order = torch.randperm(len(self.train_rows), generator=generator)
        mode = None if cfg.advantage_mode == "auto" else cfg.advantage_mode
        return TrainState(
            policy, optimizer, scheduler, reference, controller, cfg.beta, order,
            advantage_mode=mode, generator=generator,
        )  # fmt: skip

    @property
    def model(self) -> Any:
        return self.accelerator.unwrap_model(self.state.policy)

    # -- Algorithm 1 ------------------------------------------------------------------------

    def run(self) -> TrainResult:
        """Evaluate at step 0 (not when resuming), train to ``cfg.steps`` with the periodic
        evaluations and checkpoints, then save the final model and the summary."""
        cfg, state = self.cfg, self.state
        run_log = self._run_log = distributed.run_log(  # files and bar: main process only
            self.out, self.accelerator, cfg.steps, cfg.progress, resume=self._resume_logs
        )
        start = time.perf_counter()
        try:
            if self._resume_logs is None:
                state.initial_eval = self._evaluate(0, run_log, state.history)
                state.last_eval = state.initial_eval
            while state.step < cfg.steps:
                row = self.train_step(run_log)
                evaluated = self._evaluate(state.step, run_log, state.history, row)
                state.last_eval = evaluated or state.last_eval
                row["elapsed"] = process_age()
                run_log.step(row)
                self._maybe_checkpoint(run_log, start)
            seconds = state.seconds + time.perf_counter() - start
            if cfg.save_final:  # before end_training: a sharded save needs the process group
                self.save(self.out / "final")
        finally:
            self._run_log = None
            run_log.close()
            self.scheme.close()  # stops the scoring worker processes, if any
            self.accelerator.end_training()
        result = TrainResult(
            self.out, state.initial_eval, state.last_eval, state.step, seconds, state.history,
            self.policy_info,
        )  # fmt: skip
        self._write_summary(result)
        return result

    def _maybe_checkpoint(self, run_log: RunLog, start: float) -> None:
        """Every ``checkpoint_every`` steps and after the last step: write OUT/checkpoints/step-N
        (grpo_core.training.checkpoint), recording where the logs stand."""
        cfg, state = self.cfg, self.state
        every = cfg.checkpoint_every
        if not every or (state.step % every and state.step != cfg.steps):
            return
        path = checkpoint.save_checkpoint(
            self.out, state, self.accelerator, cfg=cfg, tokenizer=self.tokenizer,
            logs=run_log.position(state.step), seconds=state.seconds + time.perf_counter() - start,
        )  # fmt: skip
        run_log.echo(f"step {state.step}: checkpoint {path}")

    def train_step(self, run_log: RunLog | None = None) -> dict[str, Any]:
        """One outer step of Algorithm 1; returns its metrics row."""
        cfg, state = self.cfg, self.state
        state.step += 1
        t0 = time.perf_counter()
        self.maybe_reset_reference()
        rows = self.sample_prompts()
        early = overlap.early_scoring(self, rows)  # overlap_scoring: score ended ones early
        with early or contextlib.nullcontext():
            rollout = self.sample(rows)
        t1 = time.perf_counter()
        rewards = self.score(rollout)
        t2 = time.perf_counter()
        adv = self.advantages(rollout, rewards)
        lr = state.scheduler.get_last_lr()[0]  # the rate this step's update uses
        figures = self.optimise(rollout, adv)
        t3 = time.perf_counter()
        rollout, rewards, adv = distributed.gather_step(self.accelerator, rollout, rewards, adv)
        row = {"step": state.step, "advantage_mode": state.advantage_mode}
        row.update(rollout_metrics(rollout, rewards, adv))
        row.update(figures)
        tokens = int(rollout.completions.mask.sum())
        row.update(
            time_generation=t1 - t0, time_scoring=t2 - t1, time_optimisation=t3 - t2,
            time_step=t3 - t0, tokens_per_s=tokens / max(t3 - t0, 1e-9),
            lr=lr, beta=state.beta,
        )  # fmt: skip
        row.update(overlap.step_figures(early))
        self._update_beta(row)
        if run_log and cfg.samples_every and state.step % cfg.samples_every == 0:
            run_log.samples(state.step, rollout, rewards, cfg.samples_per_write)
        return row

    def maybe_reset_reference(self) -> None:
        """Line 3: pi_ref <- pi_theta at the start of every outer iteration of M steps."""
        every = self.cfg.ref_reset_every
        if (
            self.state.reference
            and every
            and self.state.step > 1
            and (self.state.step - 1) % every == 0
        ):
            self.state.reference.reset(self.model)

    def sample_prompts(self) -> list[dict]:
        """Line 5: the next ``prompts_per_step`` rows of a seeded shuffle (reshuffled per epoch);
        under P processes every process draws the same rows and keeps its contiguous 1/P."""
        state, n = self.state, self.cfg.prompts_per_step
        if state.cursor + n > len(state.prompt_order):
            state.prompt_order = torch.randperm(len(self.train_rows), generator=state.generator)
            state.cursor = 0
        picked = state.prompt_order[state.cursor : state.cursor + n].tolist()
        state.cursor += n
        return [self.train_rows[i] for i in picked[distributed.shard(self.accelerator, n)]]

    def sample(self, rows: list[dict]) -> Rollout:
        """Lines 6-7: G completions per prompt from pi_old = the current policy (no gradient)."""
        cfg = self.cfg
        prompts = encode_prompts(
            self.tokenizer, rows, chat_template=cfg.chat_template,
            budget=self.budget, truncation=cfg.prompt_truncation,
        )  # fmt: skip
        completions = generate(self.model, self.tokenizer, prompts, self.params, cfg.group_size)
        repeated = repeat_prompts(prompts, cfg.group_size)
        expanded = [row for row in rows for _ in range(cfg.group_size)]
        return Rollout(expanded, repeated, completions, cfg.group_size)

    def score(self, rollout: Rollout) -> Rewards:
        """Line 8: r_i from the reward scheme; failed verifications carry their error score."""
        rewards = rollout_mod.score(self.scheme, rollout)
        if self.state.advantage_mode is None:  # "auto": process supervision if steps come back
            steps = distributed.any_over_processes(self.accelerator, rollout_mod.has_steps(rewards))
            self.state.advantage_mode = "process" if steps else "outcome"
            self._echo(f"advantages: {self.state.advantage_mode} supervision")
        return rewards

    def advantages(self, rollout: Rollout, rewards: Rewards) -> torch.Tensor:
        """Line 9: group-relative advantages (outcome ones over every process's rewards, so
        that ``advantage_scale="batch"`` uses the whole batch's std)."""
        cfg = self.cfg
        if self.accelerator.num_processes > 1 and self.state.advantage_mode == "outcome":
            return distributed.outcome_advantages(
                self.accelerator, rewards.totals, rollout.group_size,
                scale=cfg.advantage_scale, std=cfg.advantage_std,
            )  # fmt: skip
        return rollout_mod.advantages(
            rollout, rewards, self.state.advantage_mode, self.tokenizer,
            scale=cfg.advantage_scale, std=cfg.advantage_std,
        )  # fmt: skip

    def optimise(self, rollout: Rollout, adv: torch.Tensor) -> dict[str, Any]:
        """Lines 10-11: mu passes of the GRPO objective, then the LR schedule steps."""
        state, s = self.state, self.pass_settings
        ref = None
        if state.reference is not None:
            chunks = optimize.micro_batches(torch.arange(rollout.size), s.micro_batch_size)
            ref = state.reference.logprobs(rollout, chunks, s.temperature)
        figures = optimize.optimise(
            state.policy, state.optimizer, self.accelerator, rollout, adv, s,
            beta=state.beta, ref_logprobs=ref,
        )  # fmt: skip
        if not figures["skipped"]:
            state.scheduler.step()
        kl = figures.pop("kl_mean", None)
        figures["kl"] = kl if ref is not None else None
        return figures

    def _echo(self, message: str) -> None:
        """A message that does not break the progress bar."""
        (self._run_log.echo if self._run_log else self.log)(message)

    def _update_beta(self, row: dict[str, Any]) -> None:
        controller = self.state.kl_controller
        if controller is not None and row.get("kl") is not None:
            n = self.cfg.prompts_per_step * self.cfg.group_size
            self.state.beta = controller.update(row["kl"], n_steps=n)

    # -- evaluation and saving --------------------------------------------------------------

    def evaluate(self) -> EvalResult:
        """Greedy held-out accuracy of the current policy on ``eval_rows`` test rows; under P
        processes each evaluates its contiguous share and the verdicts are gathered."""
        cfg = self.cfg
        rows = distributed.shard_rows(self.accelerator, self.test_rows)
        part = None if not rows else evaluate(
            self.model, self.tokenizer, rows, self.scheme,
            max_new_tokens=self.max_new_tokens, batch_size=cfg.eval_batch_size,
            chat_template=cfg.chat_template, budget=self.budget, truncation=cfg.prompt_truncation,
        )  # fmt: skip
        return distributed.merge_eval(self.accelerator, part)

    def _evaluate(
        self, step: int, run_log: RunLog, history: list, row: dict | None = None
    ) -> EvalResult | None:
        cfg = self.cfg
        due = cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps)
        if not due or not self.test_rows:
            return None
        result = self.evaluate()
        history.append((step, result.accuracy))
        target = row if row is not None else {"step": 0, "elapsed": process_age()}
        target.update(
            heldout_accuracy=result.accuracy,
            heldout_reward=result.reward_mean,
            time_eval=result.seconds,
        )
        if row is None:
            run_log.step(target)
        acc = "n/a" if result.accuracy is None else f"{result.accuracy:.1%}"
        run_log.echo(
            f"step {step}: held-out accuracy {acc} on {result.rows} rows ({result.seconds:.1f}s)"
        )
        return result

    def save(self, path: Path) -> None:
        """Model + tokenizer via save_pretrained (loadable by ``grpo evaluate --model``); a LoRA
        policy is saved merged, its adapter also to ``path``-adapter (policy.save_policy)."""
        from grpo_core.training.policy import save_policy

        if self.accelerator.is_main_process:  # every process holds the same (DDP) weights
            save_policy(self.model, self.tokenizer, path, self.policy_info)

    def _write_summary(self, result: TrainResult) -> None:
        def acc(r: EvalResult | None) -> float | None:
            return None if r is None else r.accuracy

        info = {k: v for k, v in self.policy_info.items() if k != "generation_config"}
        summary = {
            "steps": result.steps,
            "initial_heldout_accuracy": acc(result.initial),
            "final_heldout_accuracy": acc(result.final),
            "grpo_seconds": round(result.grpo_seconds, 3),
            "elapsed_since_process_start": round(process_age(), 3),
            "history": result.history,
            "policy": json.loads(json.dumps(info, default=str)),
            "final_model": str(self.out / "final") if self.cfg.save_final else None,
        }
        if self.accelerator.is_main_process:
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
