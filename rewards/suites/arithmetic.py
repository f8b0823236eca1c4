"""The ``arithmetic`` task suites: procedural integer arithmetic with seeded, disjoint splits.

``arithmetic`` asks for one result (``042+317=`` -> ``359``); ``arithmetic-steps`` chains more
operands and asks for the running result after each operation, one per line
(``2+2+2+5=`` -> ``04\\n06\\n11``), so its verifier can reward every intermediate line (process
supervision, textbook eq. 3.6-3.7).

Difficulty is set by the options: operand ``digits``, the ``operators`` drawn from (``+``, ``-``,
``*``), and the number of operands ``terms``. Chains are evaluated left to right, which is the
usual precedence for ``+`` and ``-``; ``*`` is therefore only allowed with two operands.

Splits never overlap, whatever the seeds: a problem (its operands and operators) belongs to
``test`` when a hash of it falls in one fifth of the hash range, else to ``train``, and each split
keeps only its own problems. Each split draws from its own stream,
``random.Random("grpokit-arithmetic:<options>:<split>:<seed>")``, so the same options, split and
seed always give the same rows. Within a split a drawn problem that was already used is redrawn
(up to ``REDRAWS`` times, so tiny problem spaces still terminate, then with repeats).

Row fields: ``id``, ``prompt``, ``answer`` (the final result), ``intermediate`` (the running
results, the last one being ``answer``), ``solution`` (the reference completion: the answer, or
the running results one per line), ``operands``, ``operators``. With ``pad`` the operands are
zero-padded to ``digits`` and the results in ``solution`` to the width of the largest value they
can take (``042+317=`` -> ``0359``): every digit then sits in a fixed column, which a small
model learns much faster; the verifiers compare integers, so ``359`` is right too.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

from rewards.suite import Split, SuiteError, TaskSuite

#: one problem in TEST_SHARE belongs to the test split
TEST_SHARE = 5
#: redraws of a problem already used in the split before a repeat is accepted
REDRAWS = 50
#: draws tried for a problem of the wanted split before giving up (a split can be empty)
MAX_DRAWS = 10_000
OPERATORS = "+-*"

QUESTION = "What is {expression}? Answer with the number only."
QUESTION_STEPS = (
    "Compute {expression} from left to right. Write the running result after each operation "
    "on its own line, the final result on the last line, and nothing else."
)


@dataclass(frozen=True)
class ArithmeticOptions:
    """Problem shape and split sizes.

    ``digits``: operand digits (1-9). ``operators``: the operators drawn from, a subset of
    ``+-*``. ``terms``: operands per problem (2-8). ``pad``: zero-pad operands to ``digits``
    (``042``) and results in ``solution`` to a fixed width (``0359``). ``steps``: ask for every running result, one per line. ``style``: ``compact``
    (``042+317=``, for the embedded character-level policy) or ``question`` (an English
    instruction, for chat models). ``train_rows`` / ``test_rows``: rows per split.
    """

    digits: int = 3
    operators: str = "+"
    terms: int = 2
    pad: bool = True
    steps: bool = False
    style: Literal["compact", "question"] = "compact"
    train_rows: int = 20_000
    test_rows: int = 1_000

    def __post_init__(self) -> None:
        for name in ("digits", "terms", "train_rows", "test_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if self.digits > 9:
            raise ValueError(f"digits must be at most 9, not {self.digits}")
        if not 2 <= self.terms <= 8:
            raise ValueError(f"terms must be between 2 and 8, not {self.terms}")
        ops = self.operators
        if not isinstance(ops, str) or not ops or set(ops) - set(OPERATORS):
            raise ValueError(f"operators must be a non-empty subset of {OPERATORS!r}, not {ops!r}")
        if "*" in ops and self.terms > 2:
            raise ValueError("'*' is only allowed with terms=2 (chains are read left to right)")
        for name in ("pad", "steps"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")
        if self.style not in ("compact", "question"):
            raise ValueError(f"style must be 'compact' or 'question', not {self.style!r}")


@dataclass(frozen=True)
class Problem:
    operands: tuple[int, ...]
    operators: tuple[str, ...]

    def running(self) -> list[int]:
        """The result after each operation, left to right."""
        value, out = self.operands[0], []
        for op, x in zip(self.operators, self.operands[1:], strict=True):
            value = value + x if op == "+" else value - x if op == "-" else value * x
            out.append(value)
        return out


class ArithmeticSuite(TaskSuite):
    """Integer arithmetic: one result per problem (``042+317=`` -> ``359``)."""

    name = "arithmetic"
    description = "Procedural integer arithmetic (digits, operators, terms); exact answers"
    Options = ArithmeticOptions
    required_fields = ("prompt", "answer", "solution")

    def load(self, split: Split, seed: int) -> Iterator[dict[str, Any]]:
        opts = self.options
        key = ",".join(
            f"{k}={v}" for k, v in sorted(asdict(opts).items()) if not k.endswith("_rows")
        )
        rng = random.Random(f"grpokit-arithmetic:{key}:{split}:{seed}")
        count = opts.train_rows if split == "train" else opts.test_rows
        seen: set[Problem] = set()
        for index in range(count):
            problem = self._draw(rng, split, seen)
            seen.add(problem)
            yield self._row(problem, f"{self.name}-{split}-{seed}-{index}")

    def default_scheme(self) -> dict[str, Any]:
        """Exact answer plus half a point of per-digit partial credit, scored inline (workers=0):
        the verifiers are trusted, pure string checks taking microseconds. Partial credit keeps
        groups from having zero reward variance while few answers are exactly right."""
        return {"verifiers": {"arithmetic": 1.0, "arithmetic_digits": 0.5}, "workers": 0}

    # -- problems ---------------------------------------------------------------------------

    def _draw(self, rng: random.Random, split: Split, seen: set[Problem]) -> Problem:
        problem = None
        for attempt in range(MAX_DRAWS):
            candidate = self._random_problem(rng)
            if split_of(candidate) != split:
                continue
            problem = candidate
            if candidate not in seen or attempt >= REDRAWS:
                return candidate
        if problem is None:
            raise SuiteError(
                f"suite {self.name!r}: no {split} problem found in {MAX_DRAWS} draws "
                f"with {self.options}; the problem space is too small"
            )
        return problem

    def _random_problem(self, rng: random.Random) -> Problem:
        opts = self.options
        high = 10**opts.digits - 1
        operands = tuple(rng.randint(0, high) for _ in range(opts.terms))
        operators = tuple(rng.choice(opts.operators) for _ in range(opts.terms - 1))
        return Problem(operands, operators)

    def _row(self, problem: Problem, row_id: str) -> dict[str, Any]:
        opts = self.options
        values = problem.running()
        running = [str(v) for v in values]
        width = opts.digits if opts.pad else 0
        numbers = [str(x).zfill(width) for x in problem.operands]
        shown = running
        if opts.pad:
            widths = result_widths(opts.digits, problem.operators)
            shown = [_padded(v, w) for v, w in zip(values, widths, strict=True)]
        compact = numbers[0] + "".join(
            o + n for o, n in zip(problem.operators, numbers[1:], strict=True)
        )
        if opts.style == "compact":
            prompt = compact + "="
        else:
            spaced = numbers[0] + "".join(
                f" {o} {n}" for o, n in zip(problem.operators, numbers[1:], strict=True)
            )
            prompt = (QUESTION_STEPS if opts.steps else QUESTION).format(expression=spaced)
        return {
            "id": row_id,
            "prompt": prompt,
            "answer": running[-1],
            "intermediate": running,
            "solution": "\n".join(shown) if opts.steps else shown[-1],
            "operands": list(problem.operands),
            "operators": list(problem.operators),
        }


@dataclass(frozen=True)
class ArithmeticStepsOptions(ArithmeticOptions):
    """As ``arithmetic``, but four one-digit operands and every running result on its own line
    (``2+2+2+5=`` -> ``04\n06\n11``): a chain the embedded tiny policy can learn in a few
    hundred warm-start steps (three-digit chains take it thousands)."""

    digits: int = 1
    terms: int = 4
    steps: bool = True


class ArithmeticStepsSuite(ArithmeticSuite):
    """Operand chains answered one running result per line (``2+2+2+5=`` -> ``04\\n06\\n11``)."""

    name = "arithmetic-steps"
    description = "Arithmetic chains with one running result per line; a reward per line"
    Options = ArithmeticStepsOptions
    required_fields = ("prompt", "answer", "intermediate", "solution")

    def default_scheme(self) -> dict[str, Any]:
        """One reward per intermediate line (process supervision), scored inline."""
        return {"verifiers": {"arithmetic_steps": 1.0}, "workers": 0}


def result_widths(digits: int, operators: tuple[str, ...]) -> list[int]:
    """Digits of the largest magnitude each running result can take with ``digits``-digit
    operands (3-digit ``+``: 1998, so 4)."""
    high = 10**digits - 1
    bound, out = high, []
    for op in operators:
        bound = bound * high if op == "*" else bound + high
        out.append(len(str(bound)))
    return out


def _padded(value: int, width: int) -> str:
    """``value`` with its digits zero-padded to ``width`` (sign first): 359 -> 0359, -7 -> -007."""
    return ("-" if value < 0 else "") + str(abs(value)).zfill(width)


def split_of(problem: Problem) -> Split:
    """The split a problem belongs to, fixed by a hash of its operands and operators."""
    key = f"{problem.operands}{problem.operators}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return "test" if int.from_bytes(digest, "big") % TEST_SHARE == 0 else "train"
