"""The test harness that runs INSIDE the sandbox (standalone: standard library only).

Its source is shipped into the sandbox as the program to run; the candidate's code and the test
specification come as files, a random per-run token on stdin. Three roles, three processes:

- T, the tester (this process): never executes candidate code. It makes itself non-dumpable (so
  no process of the same uid can read its memory or open its file descriptors), forks Z, and only
  then reads the token. Test code (asserts, HumanEval ``check``) runs here, calling the
  candidate's functions through proxies that return plain decoded data, so an object whose
  ``__eq__`` always says True can never reach a comparison. Only T writes to the sandbox's stdout,
  and every verdict line starts with the token.
- Z, a zygote forked before the token was read: forks one C per test case and reports its exit.
- C, the candidate: runs the candidate's code with stdin, stdout and every other descriptor
  replaced, and answers T's calls over a socket. Exiting early, ``os._exit(0)``, ``SystemExit``,
  ``atexit`` handlers, patching builtins or printing fake success lines change nothing: a case
  passes only when T has run it to the end and says so with the token C never saw.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import struct
import sys
import time
import traceback

MAX_DEPTH = 100
MAX_MESSAGE = 16 << 20
OUTPUT_CAP = 1 << 20
CANDIDATE_FILE = "solution.py"


# -- plain-data codec: the only thing that crosses from C to T -----------------------------------


def encode(value, depth=0):
    """Tagged JSON for None, bool, int, float (incl. inf/nan), str, bytes, list, tuple, dict,
    set, frozenset and complex. Anything else is refused: it is not plain data."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if kind is list:
        return [encode(v, depth + 1) for v in value]
    if kind in (tuple, set, frozenset):
        items = [encode(v, depth + 1) for v in value]
        return {f"__{kind.__name__}__": items}
    if kind is dict:
        return {
            "__dict__": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]
        }
    if kind is complex:
        return {"__complex__": [encode(value.real), encode(value.imag)]}
    if kind is bytes:
        return {"__bytes__": value.hex()}
    raise TypeError(f"returned a {kind.__name__}, which is not plain data")


_TAGS = {
    "__float__": lambda v, d: float(v),
    "__tuple__": lambda v, d: tuple(decode(x, d) for x in v),
    "__set__": lambda v, d: {decode(x, d) for x in v},
    "__frozenset__": lambda v, d: frozenset(decode(x, d) for x in v),
    "__dict__": lambda v, d: {decode(k, d): decode(x, d) for k, x in v},
    "__complex__": lambda v, d: complex(decode(v[0], d), decode(v[1], d)),
    "__bytes__": lambda v, d: bytes.fromhex(v),
}


def decode(obj, depth=0):
    """Inverse of ``encode``; raises ValueError on anything it did not produce."""
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


# -- framing ----------------------------------------------------------------------------------


def send(sock, obj):
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack("!I", len(data)) + data)


def recv(sock, deadline):
    """One message, or raise TimeoutError at ``deadline`` / EOFError if the peer is gone."""
    header = _recv_exact(sock, 4, deadline)
    (size,) = struct.unpack("!I", header)
    if size > MAX_MESSAGE:
        raise EOFError(f"message of {size} bytes is over the limit")
    return json.loads(_recv_exact(sock, size, deadline))


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


# -- C: the candidate ---------------------------------------------------------------------------


def describe_exception(exc):
    """``Type: message (line N)`` with N the last line of the candidate's own code involved."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == CANDIDATE_FILE:
            line = frame.lineno
    where = f" (line {line})" if line else ""
    return f"{type(exc).__name__}: {str(exc)[:300]}{where}"


def candidate_main(sock, source, case, kind, workdir):
    """Run in C: isolate descriptors, execute the candidate, then serve or just exit."""
    stdin_path = os.path.join(workdir, "stdin")
    with open(stdin_path, "w") as fh:
        fh.write(case.get("stdin", "") if kind == "io" else "")
    os.dup2(os.open(stdin_path, os.O_RDONLY), 0)
    out = os.open(os.path.join(workdir, "stdout"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open(os.path.join(workdir, "stderr"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(err, 2)
    keep = sock.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, 65536)
    os.chdir(workdir)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's new standard streams
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    try:
        _run_candidate(sock, source, kind)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()


def _run_candidate(sock, source, kind):
    namespace = {
        "__name__": "__main__" if kind == "io" else "solution",
        "__builtins__": __builtins__,
    }
    try:
        exec(compile(source, CANDIDATE_FILE, "exec"), namespace)  # noqa: S102 - inside the sandbox
    except BaseException as exc:  # incl. SystemExit: reported, never a pass
        if kind != "io":
            _reply(sock, {"error": describe_exception(exc)})
        return
    if kind != "io":
        serve(sock, namespace)


def _reply(sock, obj):
    with contextlib.suppress(OSError):
        send(sock, obj)


def serve(sock, namespace):
    """Answer T's calls: {"call": name, "args": [...], "kwargs": {...}} -> {"value"} | {"error"}."""
    names = sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("__"))
    send(sock, {"ready": names})
    while True:
        try:
            request = recv(sock, time.monotonic() + 3600)
        except (EOFError, TimeoutError, OSError):
            return
        try:
            func = resolve(namespace, request["call"])
            args = decode(request["args"])
            kwargs = decode(request["kwargs"])
            reply = {"value": encode(func(*args, **kwargs))}
        except BaseException as exc:
            reply = {"error": describe_exception(exc)}
        send(sock, reply)


def resolve(namespace, name):
    """A top-level function, or a method of a top-level ``Solution`` class (LeetCode style)."""
    if callable(namespace.get(name)):
        return namespace[name]
    solution = namespace.get("Solution")
    if isinstance(solution, type) and callable(getattr(solution, name, None)):
        return getattr(solution(), name)
    raise NameError(f"the solution defines no function {name!r}")


# -- Z: the zygote ----------------------------------------------------------------------------


def zygote_main(ctrl, source, kind):
    """Fork one C per request (the request carries C's socket), report its pid and exit status."""
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # T's stdin (the token's pipe) is not ours
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(ctrl, 1 << 20, 1)
        except OSError:
            os._exit(0)
        if not message or not fds:
            os._exit(0)
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            ctrl.close()
            with socket.socket(fileno=fds[0]) as sock:
                try:
                    candidate_main(sock, source, request["case"], kind, request["workdir"])
                except BaseException:
                    traceback.print_exc()
                finally:
                    os._exit(0)
        os.close(fds[0])
        send(ctrl, {"pid": pid})
        _, status = os.waitpid(pid, 0)
        send(ctrl, {"status": status})


# -- T: the tester ------------------------------------------------------------------------------


class CandidateError(Exception):
    """The candidate's function raised, returned non-plain data, or did not answer in time."""


class Child:
    """One C process as seen from T."""

    def __init__(self, ctrl, case, kind, timeout, workdir):
        os.makedirs(workdir, exist_ok=True)
        ours, theirs = socket.socketpair()
        message = json.dumps({"case": case, "workdir": workdir}).encode()
        socket.send_fds(ctrl, [message], [theirs.fileno()])
        theirs.close()
        self.ctrl, self.sock, self.workdir = ctrl, ours, workdir
        self.deadline = time.monotonic() + timeout
        self.pid = recv(ctrl, time.monotonic() + 30)["pid"]
        self.status = None

    def call(self, name, args, kwargs):
        send(self.sock, {"call": name, "args": encode(list(args)), "kwargs": encode(kwargs)})
        reply = self.receive()
        if "error" in reply:
            raise CandidateError(reply["error"])
        return decode(reply["value"])

    def receive(self):
        try:
            return recv(self.sock, self.deadline)
        except TimeoutError:
            raise CandidateError("timeout") from None
        except EOFError:
            raise CandidateError(self.exit_reason()) from None

    def finish(self):
        """Close the socket, wait for C's exit (killing it at the deadline); return its status."""
        self.sock.close()
        if self.status is None:
            try:
                self.status = recv(self.ctrl, self.deadline)["status"]
            except TimeoutError:
                os.kill(self.pid, signal.SIGKILL)
                self.status = recv(self.ctrl, time.monotonic() + 30)["status"]
                return None
        return self.status

    def exit_reason(self):
        status = self.finish()
        if status is None:
            return "timeout"
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            return f"killed by signal {sig} ({signal.Signals(sig).name})"
        return f"exited with code {os.WEXITSTATUS(status)}"

    def output(self, name):
        """What C wrote to its stdout or stderr file ("" if it never got to create it)."""
        try:
            with open(os.path.join(self.workdir, name), "rb") as fh:
                return fh.read(OUTPUT_CAP).decode("utf-8", "replace")
        except FileNotFoundError:
            return ""


def make_proxy(child, name):
    def proxy(*args, **kwargs):
        return child.call(name, args, kwargs)

    proxy.__name__ = name
    return proxy


def run_case(ctrl, spec, index, case):
    """Run one case in a fresh C; return the verdict mapping (status pass/fail/result)."""
    kind = spec["kind"]
    child = Child(ctrl, case, kind, spec["case_timeout"], os.path.join(os.getcwd(), f"case{index}"))
    try:
        if kind == "io":
            return io_verdict(child)
        try:
            ready = child.receive()
        except CandidateError as exc:
            return {"status": "fail", "reason": _failure(str(exc))}
        if "error" in ready:
            return {"status": "fail", "reason": _failure(ready["error"])}
        if kind == "call":
            try:
                value = child.call(spec["fn_name"], decode(case["args"]), decode(case["kwargs"]))
            except CandidateError as exc:
                return {"status": "fail", "reason": _failure(str(exc))}
            return {"status": "result", "value": encode(value)}
        return run_assert(child, spec, case, ready["ready"])
    finally:
        child.finish()


def io_verdict(child):
    """A program's output, or why it did not end normally (timeout, signal, exit code)."""
    error = None
    if child.finish() is None:
        error = "timeout"
    elif child.status != 0:
        last = child.output("stderr").strip().splitlines()[-1:] or [""]
        error = f"error: {child.exit_reason()}: {last[0][:300]}".rstrip(": ")
    return {"status": "result", "stdout": child.output("stdout"), "error": error}


def run_assert(child, spec, case, names):
    """Execute trusted test code in T with the candidate's functions as data-only proxies.

    Names the trusted ``setup`` defines (e.g. HumanEval's helper ``encode_cyclic``) keep their
    trusted definition, so a candidate cannot pass by redefining what the test relies on; only
    the entry point and names the setup does not define are the candidate's.
    """
    namespace = {"__name__": "__tests__"}
    for name in names:
        namespace[name] = make_proxy(child, name)
    try:
        if spec.get("setup"):
            exec(compile(spec["setup"], "setup.py", "exec"), namespace)  # noqa: S102 - trusted
        if "check" in case:
            entry = make_proxy(child, case["entry_point"])
            namespace[case["entry_point"]] = entry  # over the prompt's docstring-only stub
            exec(compile(case["check"], "tests.py", "exec"), namespace)  # noqa: S102 - trusted
            namespace["check"](entry)
        else:
            exec(compile(case["code"], "tests.py", "exec"), namespace)  # noqa: S102 - trusted
    except CandidateError as exc:
        return {"status": "fail", "reason": _failure(str(exc))}
    except AssertionError as exc:
        detail = f": {exc}" if str(exc) else ""
        return {"status": "fail", "reason": f"wrong answer: assertion failed{detail}"}
    except Exception as exc:
        return {"status": "fail", "reason": f"error: {type(exc).__name__}: {str(exc)[:300]}"}
    return {"status": "pass"}


def _failure(message):
    if message == "timeout":
        return "timeout"
    if message.startswith("MemoryError"):
        return "memory: " + message
    return "error: " + message


def make_undumpable():
    """prctl(PR_SET_DUMPABLE, 0): no same-uid process may ptrace us or open /proc/<us>/fd."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE = 4
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


def main():
    with open("spec.json") as fh:
        spec = json.load(fh)
    with open(CANDIDATE_FILE) as fh:
        source = fh.read()
    make_undumpable()
    ctrl, zygote_end = socket.socketpair()
    if os.fork() == 0:
        ctrl.close()
        zygote_main(zygote_end, source, spec["kind"])
    zygote_end.close()
    token = sys.stdin.readline().strip()  # only now: Z and every C were forked without it
    out = sys.stdout
    for index, case in enumerate(spec["cases"]):
        try:
            verdict = run_case(ctrl, spec, index, case)
        except (EOFError, OSError, TimeoutError) as exc:
            verdict = {"status": "fail", "reason": f"harness: {type(exc).__name__}: {exc}"}
        out.write(f"{token} {json.dumps({'case': index, **verdict})}\n")
        out.flush()
    out.write(f"{token} {json.dumps({'done': True})}\n")
    out.flush()
    ctrl.close()


if __name__ == "__main__":
    main()
