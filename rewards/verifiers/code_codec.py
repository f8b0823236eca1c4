"""Plain data and framing for the code verifier: what crosses between candidate, tester and host.

Standard library only: this module's source is shipped into the sandbox (prepended to the tester
and to the candidate runner), and the host imports it to read verdicts.

Only plain data crosses from the candidate: ``None``, ``bool``, ``int`` (any size: past about
3,900 digits as hex, so no side needs Python's int-to-str limit), ``float`` (incl. inf/nan),
``complex``, ``str``, ``bytes``, ``list``, ``tuple``, ``dict``, ``set``, ``frozenset``, and with
their type recorded ``collections.Counter``/``OrderedDict``/``defaultdict``/``deque``, ``range``
and iterators/generators (materialised, at most ``MAX_ITEMS`` items, decoded as an iterator).
Anything else is refused. An object of the candidate's own class never reaches a comparison,
so an ``__eq__`` that always says True can win nothing.
"""

from __future__ import annotations

import collections
import collections.abc
import hashlib
import json
import math
import struct
import time

MAX_DEPTH = 100
MAX_ITEMS = 100_000  # items materialised from one iterator or generator
MAX_MESSAGE = 64 << 20
BIG_INT_BITS = 13_000  # ints longer than this travel as hex (about 3,900 decimal digits)
_MAPPINGS = {
    collections.Counter: "__Counter__",
    collections.OrderedDict: "__OrderedDict__",
    collections.defaultdict: "__defaultdict__",
    dict: "__dict__",
}
_SEQUENCES = {tuple: "__tuple__", set: "__set__", frozenset: "__frozenset__"}


def encode(value, depth=0):
    """Tagged JSON for the plain-data types above; TypeError for anything else."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, str):
        return value
    if kind is int:
        return {"__int__": hex(value)} if value.bit_length() > BIG_INT_BITS else value
    if kind is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if kind is list:
        return [encode(v, depth + 1) for v in value]
    if kind in _SEQUENCES:
        return {_SEQUENCES[kind]: [encode(v, depth + 1) for v in value]}
    if kind in _MAPPINGS:
        return {
            _MAPPINGS[kind]: [
                [encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()
            ]
        }
    if kind is collections.deque:
        return {"__deque__": [encode(v, depth + 1) for v in value]}
    if kind is complex:
        return {"__complex__": [encode(value.real), encode(value.imag)]}
    if kind is bytes:
        return {"__bytes__": value.hex()}
    if kind is range:
        return {"__range__": [value.start, value.stop, value.step]}
    if isinstance(value, collections.abc.Iterator):  # generators, map, zip...: materialised
        items = []
        for item in value:
            if len(items) >= MAX_ITEMS:
                break
            items.append(encode(item, depth + 1))
        return {"__iter__": items}
    raise TypeError(f"returned a {kind.__name__}, which is not plain data")


def _pairs(cls):
    return lambda v, d: cls((decode(k, d), decode(x, d)) for k, x in v)


_TAGS = {
    "__int__": lambda v, d: int(v, 16),
    "__float__": lambda v, d: float(v),
    "__tuple__": lambda v, d: tuple(decode(x, d) for x in v),
    "__set__": lambda v, d: {decode(x, d) for x in v},
    "__frozenset__": lambda v, d: frozenset(decode(x, d) for x in v),
    "__dict__": _pairs(dict),
    "__Counter__": lambda v, d: collections.Counter(dict(_pairs(list)(v, d))),
    "__OrderedDict__": _pairs(collections.OrderedDict),
    "__defaultdict__": lambda v, d: collections.defaultdict(None, _pairs(list)(v, d)),
    "__deque__": lambda v, d: collections.deque(decode(x, d) for x in v),
    "__complex__": lambda v, d: complex(decode(v[0], d), decode(v[1], d)),
    "__bytes__": lambda v, d: bytes.fromhex(v),
    "__range__": lambda v, d: range(*(int(x) for x in v)),
    "__iter__": lambda v, d: iter([decode(x, d) for x in v]),
}


def decode(obj, depth=0):
    """Inverse of ``encode``; ValueError on anything ``encode`` did not produce."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if type(obj) is list:
        return [decode(v, depth + 1) for v in obj]
    if type(obj) is dict and len(obj) == 1:
        ((tag, payload),) = obj.items()
        if tag in _TAGS:
            return _TAGS[tag](payload, depth + 1)
    raise ValueError(f"not an encoded value: {str(obj)[:80]}")


def canonical_digest(encoded) -> str:
    """sha256 of an encoded value in a canonical form: equal values (dict or set order aside,
    -0.0 as 0.0) give equal digests. Compares results too large to send whole."""

    def canon(obj):
        if type(obj) is float:
            return obj + 0.0
        if type(obj) is list:
            return [canon(v) for v in obj]
        if type(obj) is dict:
            ((tag, payload),) = obj.items()
            if tag in ("__set__", "__frozenset__", "__Counter__", "__dict__", "__defaultdict__"):
                items = [canon(v) for v in payload]
                return {tag: sorted(items, key=lambda v: json.dumps(v, sort_keys=True))}
            return {tag: canon(payload)}
        return obj

    text = json.dumps(canon(encoded), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# -- printed output ------------------------------------------------------------------------------


def normalise_output(text: str) -> list[str]:
    """Lines with runs of whitespace collapsed and ends stripped; trailing blank lines dropped."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def output_digest(text: str) -> str:
    """sha256 of the normalised output: an io case is judged by this, not by the text itself."""
    return hashlib.sha256(
        "\n".join(normalise_output(text)).encode("utf-8", "surrogatepass")
    ).hexdigest()


# -- framing on a stream socket ------------------------------------------------------------------


def send(sock, obj):
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
    sock.sendall(struct.pack("!I", len(data)) + data)


def recv(sock, deadline):
    """One message, or raise TimeoutError at ``deadline`` / EOFError if the peer is gone."""
    (size,) = struct.unpack("!I", _recv_exact(sock, 4, deadline))
    if size > MAX_MESSAGE:
        raise EOFError(f"message of {size} bytes is over the limit")
    return json.loads(_recv_exact(sock, size, deadline).decode("utf-8", "surrogatepass"))


def _recv_exact(sock, size, deadline):
    chunks, got = [], 0
    while got < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(min(size - got, 1 << 20))
        except (TimeoutError, BlockingIOError):
            raise TimeoutError from None
        if not chunk:
            raise EOFError("peer closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
