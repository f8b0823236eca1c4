"""The ``length`` and ``repetition`` verifiers, and the five built-ins as registered plugins."""

import pickle
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewards import Plugins, hookimpl
from rewards.verifiers.format_tags import FormatVerifier, TagCountVerifier
from rewards.verifiers.language import LanguageVerifier
from rewards.verifiers.length import LengthVerifier, overlong_penalty
from rewards.verifiers.repetition import RepetitionVerifier, ngrams

MINE = (FormatVerifier, TagCountVerifier, LanguageVerifier, LengthVerifier, RepetitionVerifier)

# -- length ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_words", "expected"),
    [(0, 0.0), (5, 0.0), (6, 0.0), (7, -0.25), (8, -0.5), (9, -0.75), (10, -1.0), (11, -1.0)],
)
def test_length_follows_dapo_soft_overlong_punishment(n_words, expected):
    # L_max = 10, L_buf = 4: free up to 6 words, linear to -1 at 10, -1 beyond
    verifier = LengthVerifier(max_length=10, buffer=4, unit="words")
    result = verifier(" ".join(["word"] * n_words), {})
    assert result.score == pytest.approx(expected)
    assert result.error is None


def test_length_counts_characters_or_whitespace_words():
    text = "数学 is\tfun\n"  # 10 characters, 3 words
    assert LengthVerifier(max_length=12, buffer=2, unit="chars")(text, {}).score == 0.0
    assert LengthVerifier(max_length=11, buffer=2, unit="chars")(text, {}).score == -0.5
    assert LengthVerifier(max_length=9, buffer=2, unit="chars")(text, {}).score == -1.0
    assert LengthVerifier(max_length=4, buffer=2, unit="words")(text, {}).score == -0.5
    result = LengthVerifier(max_length=4, buffer=2, unit="words")(text, {})
    assert result.reason == "3 words (max 4, buffer 2): overlong -0.500"


def test_length_zero_buffer_is_a_hard_cut():
    verifier = LengthVerifier(max_length=3, buffer=0)
    assert verifier("a b c", {}).score == 0.0
    assert verifier("a b c d", {}).score == -1.0


def test_length_per_unit_adds_a_linear_penalty():
    verifier = LengthVerifier(max_length=100, buffer=10, unit="chars", per_unit=0.001)
    assert verifier("x" * 50, {}).score == pytest.approx(-0.05)
    assert verifier("x" * 95, {}).score == pytest.approx(-0.5 - 0.095)
    assert verifier("", {}).score == 0.0


@settings(max_examples=200, deadline=None)
@given(
    max_length=st.integers(1, 500),
    buffer_share=st.floats(0, 1),
    a=st.integers(0, 1000),
    b=st.integers(0, 1000),
)
def test_overlong_penalty_is_bounded_and_non_increasing(max_length, buffer_share, a, b):
    buffer = round(buffer_share * max_length)
    short, long = sorted((a, b))
    p_short = overlong_penalty(short, max_length, buffer)
    p_long = overlong_penalty(long, max_length, buffer)
    assert -1.0 <= p_long <= p_short <= 0.0
    assert overlong_penalty(max_length, max_length, buffer) == (-1.0 if buffer else 0.0)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"max_length": 0}, "max_length"),
        ({"max_length": "4096"}, "max_length"),
        ({"max_length": 10, "buffer": 11}, "buffer"),
        ({"buffer": -1}, "buffer"),
        ({"unit": "tokens"}, "unit"),
        ({"per_unit": -0.1}, "per_unit"),
        ({"per_unit": "a lot"}, "per_unit"),
        ({"max_len": 10}, "max_len"),
    ],
)
def test_length_bad_options_name_the_option(options, named):
    with pytest.raises(ValueError, match=named):
        LengthVerifier(**options)


# -- repetition -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("a b c a b c", {}, -0.25),  # 3-grams abc bca cab abc: 3 unique of 4
        ("one two three four five", {}, 0.0),
        ("The the THE", {"ngram": 1}, -2 / 3),  # lowercased
        ("go go go go go", {"ngram": 2}, -0.75),
        ("a b c a b c", {"max_penalty": -0.5}, -0.125),
        ("数学 很 好 数学 很 好", {}, -0.25),
        ("two words", {}, 0.0),  # shorter than n
        ("", {}, 0.0),
        ("a b c", {}, 0.0),  # exactly n words: one n-gram, unique
    ],
)
def test_repetition_penalty(text, options, expected):
    result = RepetitionVerifier(**options)(text, {})
    assert result.score == pytest.approx(expected)
    assert result.error is None


def test_repetition_reason():
    assert RepetitionVerifier()("a b c a b c", {}).reason == "1 of 4 3-grams repeated"
    assert RepetitionVerifier()("a b", {}).reason == "fewer than 3 words"


def test_ngrams_split_on_any_whitespace():
    assert ngrams("A\tb\n\nc  D", 2) == [("a", "b"), ("b", "c"), ("c", "d")]


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="ab \n", max_size=60), n=st.integers(1, 4))
def test_repetition_is_between_max_penalty_and_zero(text, n):
    score = RepetitionVerifier(ngram=n, max_penalty=-0.7)(text, {}).score
    assert -0.7 <= score <= 0.0


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"ngram": 0}, "ngram"),
        ({"ngram": 2.5}, "ngram"),
        ({"max_penalty": 0.5}, "max_penalty"),
        ({"max_penalty": "-1"}, "max_penalty"),
        ({"n": 3}, "'n'"),
    ],
)
def test_repetition_bad_options_name_the_option(options, named):
    with pytest.raises(ValueError, match=named):
        RepetitionVerifier(**options)


# -- all five as plugins --------------------------------------------------------------------


class _Plugin:
    @hookimpl
    def register_verifiers(self, register):
        for cls in MINE:
            register(cls)


def test_the_five_register_through_the_plugin_hooks():
    plugins = Plugins(builtins=False, entry_points=False)
    plugins.register(_Plugin(), name="test")
    registry = plugins.verifiers()
    assert plugins.failures == []
    assert {name: reg.cls.kind for name, reg in registry.items()} == {
        "format": "format",
        "tag_count": "format",
        "language": "aux",
        "length": "aux",
        "repetition": "aux",
    }
    assert plugins.verifier("length", max_length=5, buffer=0)("a b c d e f", {}).score == -1.0


@pytest.mark.parametrize("cls", MINE)
def test_verifiers_survive_pickling_with_their_options(cls):
    verifier = cls()
    copy = pickle.loads(pickle.dumps(verifier))
    assert copy.options == verifier.options
    assert cls.description


def test_importing_the_modules_loads_no_heavy_library():
    code = (
        "import sys\n"
        "import rewards.verifiers.format_tags, rewards.verifiers.language\n"
        "import rewards.verifiers.length, rewards.verifiers.repetition\n"
        "print(sorted({'py3langid', 'numpy', 'torch', 'sympy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
