"""The candidate runner: runs the candidate's code in a guest process, for ONE test case.

Shipped into the sandbox with the codec prepended and started by the tester through the
sandbox's guest launcher as ``python -I -S -B -c <this source>``: a fresh, isolated interpreter
(no user site, no ``.pth``, no ``PYTHON*`` variables, nothing on ``sys.path`` it can write),
as the guest uid, in the guest's own home directory. It inherits only fds 0-2 (the case's stdin
and where its output goes) and fd 3, a socket to the tester. It never sees the tests, the
expected outputs or the run's token: the tester sends it the candidate's source and, one call
at a time, the arguments of the calls the tests make.

Messages on fd 3 (4-byte length + JSON, see the codec):

1. tester -> runner: ``{"source": ..., "kind": "io" | "call" | "assert"}``
2. ``io``: the source runs as ``__main__`` as ``python main.py`` would; its exit status is the
   answer. ``call``/``assert``: the source runs as module ``solution``, then the runner sends
   ``{"ready": [names of its callables]}`` (or ``{"error": ...}`` if it raised) and serves
   ``{"call": name, "args": [...], "kwargs": {...}}`` with
   ``{"value": ..., "mutated": {"0": ...}}`` (arguments the call changed in place, by position
   or keyword) or ``{"raised": {"types": [class names, most derived first], "message": ...}}``.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import traceback

CANDIDATE_FILE = "solution.py"
FOREVER = 10**6  # seconds: the tester, not the runner, decides when a case is over

if __name__ != "__main__":  # imported on the host (lint, tests); in the sandbox it is prepended
    from rewards.verifiers.code_codec import decode, encode, recv, send


def describe(exc: BaseException) -> dict:
    """What the tester needs to re-raise ``exc``: its classes (most derived first), message and
    the last line of the candidate's own code involved."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == CANDIDATE_FILE:
            line = frame.lineno
    try:
        message = str(exc)[:300]
    except BaseException:  # a __str__ that raises
        message = ""
    names = [cls.__name__ for cls in type(exc).__mro__]
    return {"types": names, "message": message, "line": line}


def resolve(namespace: dict, name: str):
    """A top-level callable, or a method of a top-level ``Solution`` class (LeetCode style)."""
    if callable(namespace.get(name)):
        return namespace[name]
    solution = namespace.get("Solution")
    if isinstance(solution, type) and callable(getattr(solution, name, None)):
        return getattr(solution(), name)
    raise NameError(f"the solution defines no function {name!r}")


def call(namespace: dict, request: dict) -> dict:
    """Run one call; report the value and which arguments it changed in place."""
    args = decode(request["args"])
    kwargs = decode(request["kwargs"])
    before = {str(i): encode(a) for i, a in enumerate(args)}
    before.update({k: encode(v) for k, v in kwargs.items()})
    try:
        value = resolve(namespace, request["call"])(*args, **kwargs)
    except BaseException as exc:  # incl. SystemExit: the tester decides what it means
        return {"raised": describe(exc)}
    after = {str(i): a for i, a in enumerate(args)} | kwargs
    mutated = {}
    for key, arg in after.items():
        if isinstance(arg, list | dict | set) or type(arg).__name__ == "deque":
            now = encode(arg)
            if now != before[key]:
                mutated[key] = now
    return {"value": encode(value), "mutated": mutated}


def serve(sock: socket.socket, namespace: dict) -> None:
    names = sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("__"))
    send(sock, {"ready": names})
    while True:
        try:
            request = recv(sock, time.monotonic() + FOREVER)
        except (EOFError, TimeoutError, OSError):
            return
        try:
            reply = call(namespace, request)
        except BaseException as exc:  # a result that is not plain data, a bad request
            reply = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        send(sock, reply)


def run_program(source: str) -> int:
    """``io``: run ``source`` as ``__main__``; the exit status ``python main.py`` would have."""
    import site

    site.setquit()  # exit() / quit(), which -S leaves out
    sys.argv = [CANDIDATE_FILE]
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(source, CANDIDATE_FILE, "exec"), namespace)  # noqa: S102 - the guest's own
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            status = status or 120
    return status & 0xFF


def main() -> None:
    sys.set_int_max_str_digits(0)  # a correct program is not failed by the interpreter's limit
    sock = socket.socket(fileno=3)
    request = recv(sock, time.monotonic() + FOREVER)
    source, kind = request["source"], request["kind"]
    if kind == "io":
        sock.close()
        os._exit(run_program(source))
    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    try:
        exec(compile(source, CANDIDATE_FILE, "exec"), namespace)  # noqa: S102 - the guest's own
    except BaseException as exc:  # incl. SystemExit: reported, never a pass
        send(sock, {"error": describe(exc)})
        os._exit(0)
    serve(sock, namespace)
    os._exit(0)


if __name__ == "__main__":
    main()
