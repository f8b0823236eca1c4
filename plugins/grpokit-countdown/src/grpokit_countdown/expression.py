"""A safe parser and exact evaluator for Countdown expressions; nothing is ever ``eval``'ed.

Grammar (recursive descent, one function per rule)::

    expression := term (("+" | "-") term)*
    term       := factor (("*" | "/") factor)*
    factor     := INTEGER | "(" expression ")"

Only non-negative whole numbers (ASCII digits), the four binary operators, brackets and
whitespace are accepted; ``×``, ``÷`` and the minus sign ``−`` are read as ``*``, ``/``, ``-``.
Everything else is rejected with a message naming it and its position: names (``__import__``),
calls, decimals, power (``**``, ``^``), floor division (``//``), and unary ``+``/``-`` (a
Countdown expression combines the given positive numbers; a sign is not a number). Length and
bracket depth are capped, so parsing is linear and cannot exhaust the stack. Values are
``fractions.Fraction``: exact, with no rounding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

#: the longest ``max_length`` a caller may ask for; keeps the evaluation's recursion shallow
MAX_LENGTH_LIMIT = 1000
#: deepest bracket nesting accepted
MAX_DEPTH = 50

_ALIASES = str.maketrans({"×": "*", "÷": "/", "−": "-"})
_TOKEN = re.compile(
    r"\s*(?:(?P<int>[0-9]+)(?P<frac>\.[0-9]*)?|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<banned>\*\*|//|\^|%)|(?P<op>[-+*/()])|(?P<bad>\S))"
)
_BANNED = {"**": "power '**'", "^": "power '^'", "//": "floor division '//'", "%": "modulo '%'"}


class ExpressionError(ValueError):
    """Text that is not a Countdown expression; the message says what and where."""


@dataclass(frozen=True)
class Number:
    value: int
    position: int


@dataclass(frozen=True)
class BinaryOp:
    op: str
    left: Node
    right: Node


Node = Number | BinaryOp


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its tree and the numbers it uses, in order of appearance."""

    tree: Node
    numbers: tuple[int, ...]


@dataclass(frozen=True)
class _Token:
    kind: str  # "int", "op" or "end"
    text: str
    position: int


def tokenize(text: str) -> list[_Token]:
    """Split ``text`` into integer and operator tokens, rejecting anything else."""
    tokens: list[_Token] = []
    position = 0
    text = text.translate(_ALIASES)
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only trailing whitespace is left
            break
        kind = match.lastgroup or "bad"
        start = match.start(kind)
        lexeme = match.group(kind)
        if kind == "frac":
            start = match.start("int")
            raise ExpressionError(
                f"decimal number {text[start : match.end()]!r} at position {start}: "
                "only whole numbers are allowed"
            )
        if kind == "name":
            raise ExpressionError(f"names are not allowed ({lexeme!r} at position {start})")
        if kind == "banned":
            raise ExpressionError(f"{_BANNED[lexeme]} at position {start} is not allowed")
        if kind == "bad":
            raise ExpressionError(f"unexpected character {lexeme!r} at position {start}")
        tokens.append(_Token(kind, lexeme, start))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent over the token list; ``depth`` counts open brackets."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.numbers: list[int] = []

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expression(self) -> Node:
        node = self.term()
        while self.peek().text in ("+", "-"):
            op = self.take().text
            node = BinaryOp(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.peek().text in ("*", "/"):
            op = self.take().text
            node = BinaryOp(op, node, self.factor())
        return node

    def factor(self) -> Node:
        token = self.take()
        if token.kind == "int":
            self.numbers.append(int(token.text))
            return Number(int(token.text), token.position)
        if token.text == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExpressionError(f"brackets nested deeper than {MAX_DEPTH}")
            node = self.expression()
            self.expect(")", f"to close '(' at position {token.position}")
            self.depth -= 1
            return node
        if token.text in ("+", "-"):
            raise ExpressionError(
                f"unary '{token.text}' at position {token.position} is not "
                "allowed: use the given numbers and binary operators only"
            )
        raise ExpressionError(f"expected a number or '(', found {_describe(token)}")

    def expect(self, text: str, why: str) -> None:
        token = self.take()
        if token.text != text:
            raise ExpressionError(f"expected {text!r} {why}, found {_describe(token)}")


def parse(text: str, *, max_length: int = 200) -> Expression:
    """Parse ``text`` into an ``Expression``; raise ``ExpressionError`` saying what is wrong."""
    if not 1 <= max_length <= MAX_LENGTH_LIMIT:
        raise ValueError(f"max_length must be between 1 and {MAX_LENGTH_LIMIT}, not {max_length}")
    text = text.strip()
    if not text:
        raise ExpressionError("empty expression")
    if len(text) > max_length:
        raise ExpressionError(f"expression is {len(text)} characters long, limit {max_length}")
    parser = _Parser(tokenize(text))
    tree = parser.expression()
    if parser.peek().kind != "end":
        raise ExpressionError(f"unexpected {_describe(parser.peek())}")
    return Expression(tree, tuple(parser.numbers))


def evaluate(node: Node) -> Fraction:
    """The exact value of ``node``; ``ZeroDivisionError`` when it divides by zero."""
    if isinstance(node, Number):
        return Fraction(node.value)
    left, right = evaluate(node.left), evaluate(node.right)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    return left / right


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "end of expression"
    return f"{token.text!r} at position {token.position}"
