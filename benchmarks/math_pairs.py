"""Seeded generator of labelled (gold, completion) pairs for the math-verification benchmark.

``make_pairs(n, seed)`` returns ``n`` varied pairs over every answer type the ``math`` verifier
handles (integers, decimals, fractions, LaTeX radicals and pi, polynomials, percentages, sets,
intervals, tuples, matrices, equations, units, text and multiple choice), correct and incorrect,
plus hedged answers, boxes corrected later in the text (the last counts), answers stated in a
sentence or in Chinese, completions without a final answer, and pathological inputs (power towers,
huge factorials, deep nesting, megabyte completions). Nothing is downloaded.

``label`` is 1 when the final answer is correct under the verifier's documented rules: an
exact gold accepts only exactly equal values (1/3 rejects 0.333333), a gold written with
decimals is rounded to its last digit, a hedge ("3 or 4") and a missing final answer are wrong.
``category`` names the case; ``CATEGORY_NOTES`` explains in one line what a disagreement in
that category usually means.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from math_pair_types import TYPES, R, dress, reasoning  # noqa: E402

CATEGORY_NOTES: dict[str, str] = {
    "integer": "integer answer",
    "near_integer": "a near miss of an exact integer (2.0000001 vs 2)",
    "decimal": "decimal answer written another way",
    "approx_gold": "gold given to a few decimals: tolerance follows the gold's precision",
    "fraction": "fraction answer",
    "approx_of_exact": "math-verify accepts a 6-decimal approximation of an exact gold (1/3≈0.333333)",
    "latex_expr": "radicals / pi in LaTeX",
    "symbolic": "polynomial or rational expression",
    "percent": "percentage vs number",
    "set": "set, any order",
    "interval": "interval, brackets matter",
    "tuple": "ordered tuple",
    "matrix": "matrix",
    "equation": "equation or assignment (x = 3 vs 3)",
    "units": "units or currency around a number",
    "text": "plain-text answer (yes / weekday / colour)",
    "choice": "multiple-choice letter",
    "text_anagram": "math-verify reads words as commutative products of symbols (yes == sey)",
    "empty_set": "math-verify does not equate \\varnothing and \\emptyset",
    "tiny": "math-verify compares tiny values at 15 digits with chop (1/2^99 == 1/2^98)",
    "hedge": "hedged answer: several candidates for one value",
    "self_correction": "a box corrected later in the text: the last box counts",
    "sentence": "final answer stated in a sentence or another language",
    "no_answer": "no final answer: math-verify takes any number in the text",
    "answer_tag": "answer given in <answer> tags",
    "pathological": "pathological input (tower, huge factorial, deep nesting, megabyte)",
    "known_limits": "known limitation: trig in degrees, number words, a relation for an interval",
}


@dataclass(frozen=True)
class Pair:
    id: str
    gold: str
    completion: str
    label: int
    category: str

    def row(self) -> dict[str, object]:
        return {
            "id": self.id,
            "completion": self.completion,
            "answer": self.gold,
            "label": self.label,
        }


# -- whole completions ----------------------------------------------------------------------


def _hedge(rng: R) -> tuple[str, str]:
    n = rng.randint(1, 60)
    m = n + rng.choice([-3, -1, 1, 2, 5])
    first, second = (n, m) if rng.random() < 0.5 else (m, n)
    finals = [
        f"The answer is ${first}$ or ${second}$.",
        f"So the answer is $\\boxed{{{first} \\text{{ or }} {second}}}$.",
        f"Maybe $\\boxed{{{first}}}$ or $\\boxed{{{second}}}$.",
        f"Hence $\\boxed{{x = {first}, {second}}}$.",
    ]
    return str(n), f"{reasoning(rng)}\n{rng.choice(finals)}"


def _self_correction(rng: R) -> tuple[str, str, int]:
    """A first box, then a correction and a last box: the last box is the answer."""
    n = rng.randint(1, 60)
    wrong = n + rng.choice([-3, -1, 1, 2, 5])
    first, last, label = (wrong, n, 1) if rng.random() < 0.5 else (n, wrong, 0)
    fix = rng.choice(
        [
            "Wait, that drops a sign. Redoing the last step gives",
            "Actually, I made an arithmetic error above; correcting it, the result is",
        ]
    )
    text = f"{reasoning(rng)} So $\\boxed{{{first}}}$.\n\n{fix} $\\boxed{{{last}}}$."
    return str(n), text, label


_SENTENCES = (
    "Final Answer: The largest $n$ is {x}.",
    "Final Answer: The number of ways is {x}. I hope it is correct.",
    "<answer>答案是 {x}</answer>",
    "所以答案是 {x}。",
    "Answer: ${x}$",
)


def _sentence(rng: R) -> tuple[str, str, int]:
    """The final answer stated in a sentence (English or Chinese), not boxed."""
    gold, answer, label = TYPES[rng.choice(["integer", "fraction"])][1](rng)
    return gold, f"{reasoning(rng)}\n{rng.choice(_SENTENCES).format(x=answer)}", label


def _no_answer(rng: R) -> tuple[str, str]:
    n = rng.randint(2, 60)
    text = f"{reasoning(rng)} We get {n} in one case but I am not sure how to finish this."
    return str(n), text


def _answer_tag(rng: R) -> tuple[str, str]:
    gen = TYPES[rng.choice(["integer", "fraction", "set", "latex_expr", "text", "equation"])][1]
    gold, answer, label = gen(rng)
    tag = (
        f"<answer>{answer}</answer>"
        if rng.random() < 0.7
        else f"<answer>$\\boxed{{{answer}}}$</answer>"
    )
    return gold, f"<think>{reasoning(rng)}</think>\n{tag}", label


def _pathological(rng: R) -> tuple[str, str, int]:
    n = rng.randint(2, 9)
    kind = rng.randrange(7)
    if kind == 0:
        return str(n), dress(rng, "^".join([str(n)] * rng.randint(4, 6))), 0
    if kind == 1:
        return str(n), dress(rng, f"{n}^{{{n}^{{{n}^{{{n}}}}}}}"), 0
    if kind == 2:
        return str(n), dress(rng, f"({10 ** rng.randint(5, 9)})!"), 0
    if kind == 3:
        depth = rng.randint(60, 400)
        return str(n), dress(rng, "(" * depth + str(n) + ")" * depth), 0
    if kind == 4:
        return str(n), "word " * rng.randint(150_000, 250_000) + f"\\boxed{{{n}}}", 1
    if kind == 5:
        return str(n), dress(rng, f"10^{{10^{{{rng.randint(6, 12)}}}}}"), 0
    return str(n), "\\boxed{" * rng.randint(5_000, 20_000), 0


WHOLE: dict[str, tuple[float, Callable[[R], tuple]]] = {
    "hedge": (5, _hedge),
    "self_correction": (2, _self_correction),
    "sentence": (3, _sentence),
    "no_answer": (3, _no_answer),
    "answer_tag": (6, _answer_tag),
    "pathological": (1, _pathological),
}


def make_pairs(n: int = 2400, seed: int = 0) -> list[Pair]:
    """``n`` labelled pairs drawn from every category (weights above), reproducibly."""
    rng = random.Random(seed)
    names = list(TYPES) + list(WHOLE)
    weights = [TYPES[c][0] if c in TYPES else WHOLE[c][0] for c in names]
    pairs = []
    for i in range(n):
        category = rng.choices(names, weights)[0]
        if category in TYPES:
            gold, answer, label = TYPES[category][1](rng)
            completion = dress(rng, answer)
        else:
            out = WHOLE[category][1](rng)
            gold, completion = out[0], out[1]
            label = out[2] if len(out) == 3 else 0
        pairs.append(Pair(f"{category}-{i}", gold, completion, label, category))
    return pairs
