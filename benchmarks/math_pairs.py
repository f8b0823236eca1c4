"""Seeded generator of labelled (gold, completion) pairs for the math-verification benchmark.

``make_pairs(n, seed)`` returns ``n`` varied pairs over every answer type the ``math`` verifier
handles (integers, decimals, fractions, LaTeX radicals and pi, polynomials, percentages, sets,
intervals, tuples, matrices, equations, units, text and multiple choice), correct and incorrect,
plus hedged answers, completions without a final answer, and pathological inputs (power towers,
huge factorials, deep nesting, megabyte completions). Nothing is downloaded.

``label`` is 1 when the final answer is correct under the verifier's documented rules: an
exact gold accepts only exactly equal values (1/3 rejects 0.333333), a gold written with
decimals is rounded to its last digit, a hedge ("3 or 4") and a missing final answer are wrong.
``category`` names the case; ``CATEGORY_NOTES`` explains in one line what a disagreement in
that category usually means.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

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


R = random.Random
Gen = Callable[[R], tuple[str, str, int]]  # (gold, final answer text, label)

# -- completion dressing --------------------------------------------------------------------

_STEPS = (
    "First we compute {a} + {b} = {c}.",
    "Multiplying both sides by {a} gives {c}.",
    "Let $x$ be the unknown; then $x + {a} = {c}$.",
    "We check the case $n = {a}$ separately.",
    "Substituting $t = {b}$ into the expression simplifies things.",
    "So the intermediate value is ${c}$, which we use below.",
    "By symmetry the two halves contribute equally.",
    "Note that {a} and {b} are coprime.",
)
_FINALS = (
    "Therefore, the final answer is $\\boxed{{{x}}}$.",
    "So the answer is $\\boxed{{{x}}}$. I hope it is correct.",
    "Final Answer: The final answer is ${x}$. I hope it is correct.",
    "**Final Answer:** ${x}$",
    "The answer is ${x}$.",
    "\\[\\boxed{{{x}}}\\]",
)


def reasoning(rng: R) -> str:
    steps = []
    for _ in range(rng.randint(1, 5)):
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        steps.append(rng.choice(_STEPS).format(a=a, b=b, c=a + b))
    return " ".join(steps)


def dress(rng: R, answer: str) -> str:
    return f"{reasoning(rng)}\n{rng.choice(_FINALS).format(x=answer)}"


# -- answer types ---------------------------------------------------------------------------


def _integer(rng: R) -> tuple[str, str, int]:
    n = rng.choice([rng.randint(0, 99), rng.randint(100, 9999), -rng.randint(1, 50)])
    good = [str(n), f"{n}.0", f"x = {n}", f"{n:,}" if abs(n) >= 1000 else f"{n}", f"{{{n}}}"]
    bad = [str(n + rng.choice([-2, -1, 1, 2, 10])), str(-n if n else 7), f"{n}.5"]
    return _pick(rng, str(n), good, bad)


def _near_integer(rng: R) -> tuple[str, str, int]:
    n = rng.randint(1, 500)
    return str(n), f"{n}.0000001" if rng.random() < 0.5 else f"{n - 1}.9999999", 0


def _decimal(rng: R) -> tuple[str, str, int]:
    num, den = rng.choice([(1, 2), (1, 4), (3, 4), (5, 2), (7, 8), (1, 5), (13, 4), (9, 20)])
    value = num / den
    gold = f"{value:g}"
    good = [f"\\frac{{{num}}}{{{den}}}", f"{num}/{den}", gold, f"{value:.4f}"]
    bad = [f"{value + 0.1:g}", f"{value * 10:g}", f"\\frac{{{den}}}{{{num}}}"]
    return _pick(rng, gold, good, bad)


_CONSTANTS = (("\\pi", math.pi), ("\\sqrt{2}", 2**0.5), ("e", math.e), ("\\sqrt{3}", 3**0.5))


def _approx_gold(rng: R) -> tuple[str, str, int]:
    symbol, value = rng.choice(_CONSTANTS)
    places = rng.randint(2, 4)
    gold = f"{value:.{places}f}"
    good = [f"{value:.{places + 3}f}", f"{value:.{places}f}", symbol]
    bad = [f"{value:.{places - 1}f}" if round(value, places - 1) != float(gold) else "1.5"]
    bad.append(f"{float(gold) + 3 * 10**-places:.{places}f}")
    return _pick(rng, gold, good, bad)


def _fraction(rng: R) -> tuple[str, str, int]:
    den = rng.choice([3, 7, 9, 11, 13])
    num = rng.choice([k for k in range(1, den) if math.gcd(k, den) == 1])
    k = rng.randint(2, 5)
    gold = f"\\frac{{{num}}}{{{den}}}"
    good = [f"\\dfrac{{{num}}}{{{den}}}", f"{num}/{den}", f"\\frac{{{k * num}}}{{{k * den}}}"]
    bad = [f"\\frac{{{den}}}{{{num}}}", f"\\frac{{{num + 1}}}{{{den}}}", f"{num}/{den + 1}"]
    return _pick(rng, gold, good, bad)


def _approx_of_exact(rng: R) -> tuple[str, str, int]:
    num, den = rng.choice([(1, 3), (2, 3), (1, 7), (5, 9), (1, 6)])
    places = rng.choice([3, 6, 7])
    return f"\\frac{{{num}}}{{{den}}}", f"{num / den:.{places}f}", 0


_EXPRS = (
    ("2\\sqrt{3}", ["\\sqrt{12}", "2 \\sqrt 3"], ["3\\sqrt{2}", "\\sqrt{6}"]),
    ("\\frac{\\sqrt{2}}{2}", ["\\frac{1}{\\sqrt{2}}", "\\frac{1}{2}\\sqrt{2}"], ["\\sqrt{2}"]),
    ("3\\pi", ["\\pi \\cdot 3", "3 \\pi"], ["\\frac{3}{\\pi}", "6\\pi"]),
    ("\\frac{\\pi}{4}", ["\\frac{1}{4}\\pi", "0.25\\pi"], ["\\frac{\\pi}{2}", "4\\pi"]),
    ("1+\\sqrt{5}", ["\\sqrt{5}+1"], ["1-\\sqrt{5}", "\\sqrt{6}"]),
    ("\\frac{1+\\sqrt{5}}{2}", ["\\frac{\\sqrt{5}+1}{2}"], ["\\frac{1-\\sqrt{5}}{2}"]),
    ("4\\sqrt{2}", ["\\sqrt{32}", "2\\sqrt{8}"], ["2\\sqrt{2}", "\\sqrt{16}"]),
    ("\\log_2 3", ["\\frac{\\ln 3}{\\ln 2}"], ["\\log_3 2"]),
    ("2e^{3}", ["2 e^3"], ["3e^{2}"]),
)


def _latex_expr(rng: R) -> tuple[str, str, int]:
    gold, good, bad = rng.choice(_EXPRS)
    return _pick(rng, gold, good, bad)


def _symbolic(rng: R) -> tuple[str, str, int]:
    a, b = rng.randint(1, 6), rng.randint(1, 6)
    gold = f"x^2+{a + b}x+{a * b}"
    good = [f"(x+{a})(x+{b})", f"(x+{b})(x+{a})", f"{a * b}+{a + b}x+x^2"]
    bad = [f"(x+{a})(x+{b + 1})", f"(x-{a})(x-{b})"]
    if a * b != a + b:
        bad.append(f"x^2+{a * b}x+{a + b}")
    if rng.random() < 0.3:
        gold = f"\\frac{{x^2-{a * a}}}{{x-{a}}}"
        good, bad = [f"x+{a}"], [f"x-{a}", f"x+{a + 1}"]
    return _pick(rng, gold, good, bad)


def _percent(rng: R) -> tuple[str, str, int]:
    p = rng.choice([5, 10, 12, 20, 25, 40, 50, 75])
    gold = f"{p}\\%"
    good = [f"{p}\\%", f"{p}%", f"{p / 100:g}", str(p)]
    bad = [f"{p + 5}\\%", f"{p / 10:g}", f"{p + 1}"]
    return _pick(rng, gold, good, bad)


def _set(rng: R) -> tuple[str, str, int]:
    items = rng.sample(range(-9, 20), rng.randint(2, 4))
    gold = "\\{" + ", ".join(map(str, items)) + "\\}"
    shuffled = items[:]
    rng.shuffle(shuffled)
    good = ["\\{" + ",".join(map(str, shuffled)) + "\\}", ", ".join(map(str, shuffled))]
    changed = items[:-1] + [items[-1] + 1]
    bad = [
        "\\{" + ", ".join(map(str, items[:-1])) + "\\}",
        "\\{" + ", ".join(map(str, changed)) + "\\}",
    ]
    return _pick(rng, gold, good, bad)


def _interval(rng: R) -> tuple[str, str, int]:
    a = rng.randint(-10, 5)
    b = a + rng.randint(1, 10)
    lo, hi = rng.choice("[("), rng.choice("])")
    hi_text = rng.choice([str(b), "\\infty"]) if hi == ")" else str(b)
    gold = f"{lo}{a}, {hi_text}{hi}"
    flip = {"[": "(", "(": "[", "]": ")", ")": "]"}
    good = [f"{lo}{a},{hi_text}{hi}", f"\\left{lo} {a}, {hi_text} \\right{hi}"]
    bad = [f"{flip[lo]}{a}, {hi_text}{hi}", f"{lo}{a + 1}, {hi_text}{hi}"]
    return _pick(rng, gold, good, bad)


def _tuple(rng: R) -> tuple[str, str, int]:
    a, b = rng.sample(range(-9, 15), 2)
    gold = f"({a}, {b})"
    good = [f"({a},{b})", f"\\left( {a}, {b} \\right)"]
    bad = [f"({b}, {a})", f"({a}, {b + 1})"]
    return _pick(rng, gold, good, bad)


def _matrix(rng: R) -> tuple[str, str, int]:
    m = [rng.randint(-5, 9) for _ in range(4)]

    def mat(env: str, v: list[int]) -> str:
        return f"\\begin{{{env}}} {v[0]} & {v[1]} \\\\ {v[2]} & {v[3]} \\end{{{env}}}"

    good = [mat("bmatrix", m), mat("pmatrix", m)]
    bad = [mat("pmatrix", [m[0], m[2], m[1], m[3]] if m[1] != m[2] else [m[0] + 1, *m[1:]])]
    return _pick(rng, mat("pmatrix", m), good, bad)


def _equation(rng: R) -> tuple[str, str, int]:
    m, c = rng.sample(range(2, 10), 2)  # distinct, so "y = cx + m" is really wrong
    if rng.random() < 0.5:
        n = rng.randint(-20, 40)
        return _pick(rng, str(n), [f"x = {n}", f"x={n}"], [f"x = {n + 1}", f"y = {n - 3}"])
    gold = f"y = {m}x + {c}"
    good = [f"y = {c} + {m}x", f"y={m}x+{c}"]
    bad = [f"y = {m}x - {c}", f"y = {c}x + {m}"]
    return _pick(rng, gold, good, bad)


def _units(rng: R) -> tuple[str, str, int]:
    n = rng.randint(2, 500)
    unit = rng.choice(
        ["\\text{ cm}", "\\text{ meters}", " dollars", "^\\circ", " km", "\\text{ kg}"]
    )
    good = [f"{n}{unit}", f"\\${n}" if "dollars" in unit else f"{n} \\text{{units}}"]
    return _pick(rng, str(n), good, [f"{n + 1}{unit}", f"{n * 10}{unit}"])


_WORDS = (
    ["yes", "no"],
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    ["red", "blue", "green"],
    ["even", "odd"],
)


def _text(rng: R) -> tuple[str, str, int]:
    group = rng.choice(_WORDS)
    gold = rng.choice(group)
    good = [gold.lower(), gold.upper(), f"\\text{{{gold}}}", gold.capitalize()]
    return _pick(rng, gold, good, [w for w in group if w != gold])


def _choice(rng: R) -> tuple[str, str, int]:
    gold = rng.choice("ABCDE")
    good = [gold, f"({gold})", f"\\text{{({gold})}}", f"{gold})"]
    return _pick(rng, gold, good, [c for c in "ABCDE" if c != gold])


def _text_anagram(rng: R) -> tuple[str, str, int]:
    gold, wrong = rng.choice(
        [("yes", "sey"), ("Tuesday", "Dayseut"), ("even", "neve"), ("abc", "cab")]
    )
    return gold, wrong, 0


def _empty_set(rng: R) -> tuple[str, str, int]:
    gold = rng.choice(["\\varnothing", "\\emptyset"])
    return _pick(rng, gold, ["\\emptyset", "\\varnothing", "\\{\\}"], ["\\{0\\}", "0"])


def _tiny(rng: R) -> tuple[str, str, int]:
    k = rng.randint(60, 140)
    if rng.random() < 0.5:
        return f"\\frac{{1}}{{2^{{{k}}}}}", f"\\frac{{1}}{{2^{{{k + rng.choice([-1, 1])}}}}}", 0
    return _pick(rng, f"10^{{-{k}}}", [f"\\frac{{1}}{{10^{{{k}}}}}"], [f"10^{{-{k + 1}}}"])


def _known_limits(rng: R) -> tuple[str, str, int]:
    """Correct answers that neither verifier accepts (kept to show the limits honestly)."""
    n = rng.randint(2, 9)
    words = ["two", "three", "four", "five", "six", "seven", "eight", "nine"]
    return rng.choice(
        [
            ("\\frac{\\sqrt{3}}{2}", rng.choice(["\\sin 60^\\circ", "\\cos 30^{\\circ}"]), 1),
            (str(n), words[n - 2], 1),
            (f"[{n}, \\infty)", f"x \\ge {n}", 1),
        ]
    )


def _pick(rng: R, gold: str, good: list[str], bad: list[str]) -> tuple[str, str, int]:
    if rng.random() < 0.5:
        return gold, rng.choice(good), 1
    return gold, rng.choice(bad), 0


TYPES: dict[str, tuple[float, Gen]] = {
    "integer": (10, _integer),
    "near_integer": (1.5, _near_integer),
    "decimal": (6, _decimal),
    "approx_gold": (5, _approx_gold),
    "fraction": (7, _fraction),
    "approx_of_exact": (3, _approx_of_exact),
    "latex_expr": (7, _latex_expr),
    "symbolic": (6, _symbolic),
    "percent": (4, _percent),
    "set": (5, _set),
    "interval": (5, _interval),
    "tuple": (4, _tuple),
    "matrix": (3, _matrix),
    "equation": (5, _equation),
    "units": (4, _units),
    "text": (4, _text),
    "choice": (3, _choice),
    "text_anagram": (0.7, _text_anagram),
    "empty_set": (1.5, _empty_set),
    "tiny": (2, _tiny),
    "known_limits": (1, _known_limits),
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
    gold, answer, label = rng.choice([_integer, _fraction])(rng)
    return gold, f"{reasoning(rng)}\n{rng.choice(_SENTENCES).format(x=answer)}", label


def _no_answer(rng: R) -> tuple[str, str]:
    n = rng.randint(2, 60)
    text = f"{reasoning(rng)} We get {n} in one case but I am not sure how to finish this."
    return str(n), text


def _answer_tag(rng: R) -> tuple[str, str]:
    gen = rng.choice([_integer, _fraction, _set, _latex_expr, _text, _equation])
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
