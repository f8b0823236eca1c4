"""The tester: runs INSIDE the sandbox, holds the tests, never executes candidate code.

Shipped with the codec prepended and run with ``guests=True`` (see ``sandboxes._guest``). It
reads everything from stdin, in one JSON object: the run's random token, the test spec (asserts,
check code, trusted setup, call arguments, io inputs), the candidate's source and the runner's
source. Nothing of it is ever written to a file. The tester is non-dumpable and, where the
sandbox runs as root, of another uid than the candidate, so no candidate process can read its
memory, descriptors or environment, ptrace it or signal it.

Each test case runs in a fresh guest (``code_runner``): a new interpreter as the guest uid that
gets only the candidate's source and, call by call, the arguments the tests pass. After the case
every process the guest left is killed and its home emptied, so nothing survives into the next
case. Test code runs here, in a namespace the candidate does not touch: builtins are this
interpreter's own, names the trusted setup defines stay the setup's, and only names the tests
use, do not define and the candidate does define become proxies that call the guest. What comes
back is plain data; an exception the candidate raises is re-raised here as the same builtin type
(``except ValueError`` in a test works); a call that times out, crashes or returns something
that is not plain data raises ``CandidateFailure``, which test code cannot swallow with
``except Exception`` and which fails the case even if swallowed otherwise. Arguments a call
changes in place are changed in place here too (lists, dicts, sets, deques).

Only the tester writes to the sandbox's stdout: one line per case, ``<token> <json verdict>``.
io outputs and large results travel as digests (``output_digest``, ``canonical_digest``), so
no program output can crowd a verdict out of the output limit.
"""

from __future__ import annotations

import ast
import builtins
import collections
import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import time

GUEST_ARGV = ["python3", "-I", "-S", "-B", "-c"]
IO_OUTPUT_CAP = 16 << 20  # bytes of an io case's stdout that are judged
STDERR_CAP = 64 << 10
VALUE_CAP = 256 << 10  # encoded results larger than this travel as a digest
LAUNCHER_GRACE = 30.0

if __name__ != "__main__":  # imported on the host (lint, tests); in the sandbox it is prepended
    from rewards.verifiers.code_codec import (
        canonical_digest,
        decode,
        encode,
        output_digest,
        recv,
        send,
    )


class CandidateFailure(BaseException):  # noqa: N818 - deliberately not an Exception
    """The candidate did not answer properly: timeout, crash, non-plain data, no such name."""


class Launcher:
    """The sandbox's guest launcher, seen from the tester."""

    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)

    def call(self, request: dict, fds: list[int] = (), seconds: float = 0.0) -> dict:
        self.sock.settimeout(seconds + LAUNCHER_GRACE)
        socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds))
        reply = json.loads(self.sock.recv(1 << 20) or b"{}")
        if "error" in reply or not reply:
            raise OSError(f"guest launcher: {reply.get('error', 'closed')}")
        return reply


class Guest:
    """One candidate process for one case."""

    def __init__(self, launcher: Launcher, payload: dict, kind: str, stdin: str, timeout: float):
        self.launcher, self.kind = launcher, kind
        self.deadline = time.monotonic() + timeout
        self.failure: str | None = None
        self.raised: tuple[BaseException, str] | None = None
        self.status: int | None = None
        self.sock, theirs = socket.socketpair()
        self.out_r = self.err_r = None
        fds = self._descriptors(stdin)
        try:
            argv = [*GUEST_ARGV, payload["runner"]]
            self.pid = launcher.call({"op": "spawn", "argv": argv}, [*fds, theirs.fileno()])["pid"]
        finally:
            theirs.close()
            for fd in fds:
                os.close(fd)
        send(self.sock, {"source": payload["source"], "kind": kind})

    def _descriptors(self, stdin: str) -> list[int]:
        """The guest's fds 0-2: the case's stdin and output pipes (io), else /dev/null."""
        if self.kind != "io":
            return [os.open(os.devnull, os.O_RDWR) for _ in range(3)]
        stdin_fd = os.memfd_create("stdin")
        os.write(stdin_fd, stdin.encode("utf-8", "surrogateescape"))
        os.lseek(stdin_fd, 0, os.SEEK_SET)
        self.out_r, out_w = os.pipe()
        self.err_r, err_w = os.pipe()
        return [stdin_fd, out_w, err_w]

    # -- call / assert -------------------------------------------------------------------------

    def receive(self) -> dict:
        try:
            return recv(self.sock, self.deadline)
        except TimeoutError:
            raise self.fail("timeout") from None
        except (EOFError, OSError, ValueError):
            raise self.fail("error: " + self.exit_reason()) from None

    def fail(self, reason: str) -> CandidateFailure:
        self.failure = self.failure or reason
        return CandidateFailure(reason)

    def ready(self) -> list[str]:
        reply = self.receive()
        if "error" in reply:
            raise self.fail(describe_raised(reply["error"]))
        return reply["ready"]

    def request(self, name: str, args, kwargs) -> dict:
        """One raw call: the runner's reply (value, raised, or error)."""
        try:
            send(self.sock, {"call": name, "args": encode(list(args)), "kwargs": encode(kwargs)})
        except OSError:
            raise self.fail("error: " + self.exit_reason()) from None
        reply = self.receive()
        if "error" in reply:
            raise self.fail("error: " + str(reply["error"]))
        return reply

    def call(self, name: str, args, kwargs):
        """A proxied call from test code: the value, or the candidate's exception re-raised."""
        reply = self.request(name, args, kwargs)
        if "raised" in reply:
            exc = rebuild(reply["raised"])
            if isinstance(exc, CandidateFailure):
                raise self.fail(str(exc))
            self.raised = (exc, describe_raised(reply["raised"]))
            raise exc
        try:
            value = decode(reply["value"])
            write_back(args, kwargs, reply.get("mutated") or {})
        except (ValueError, TypeError, KeyError) as exc:
            raise self.fail(f"error: undecodable result ({exc})") from None
        return value

    # -- io ------------------------------------------------------------------------------------

    def output(self) -> tuple[str, str, bool]:
        """(stdout, stderr, exited): what the program printed until it exited (or the deadline).

        Output is read while the program runs; once it has exited, what is left in the pipes is
        drained and processes it left behind (which may hold the pipes open) are ignored, and
        killed when the case ends."""
        bufs = {self.out_r: bytearray(), self.err_r: bytearray()}
        caps = {self.out_r: IO_OUTPUT_CAP, self.err_r: STDERR_CAP}
        pidfd = _pidfd(self.pid)
        exited = False
        with selectors.DefaultSelector() as selector:
            for fd in bufs:
                selector.register(fd, selectors.EVENT_READ)
            if pidfd is not None:
                selector.register(pidfd, selectors.EVENT_READ)
            while len(selector.get_map()) > (pidfd is not None) and not exited:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    break
                for key, _ in selector.select(remaining):
                    if key.fd == pidfd:
                        exited = True
                    elif not _read_into(key.fd, bufs[key.fd], caps[key.fd]):
                        selector.unregister(key.fd)
            pipes_closed = len(selector.get_map()) == (pidfd is not None)
        if pidfd is not None:
            os.close(pidfd)
        for fd in bufs if exited else ():
            os.set_blocking(fd, False)
            with contextlib.suppress(BlockingIOError):
                while _read_into(fd, bufs[fd], caps[fd]):
                    pass
        out, err = (bufs[fd].decode("utf-8", "replace") for fd in (self.out_r, self.err_r))
        return out, err, exited or pipes_closed

    # -- end -----------------------------------------------------------------------------------

    def wait(self) -> int | None:
        if self.status is None:
            seconds = max(self.deadline - time.monotonic(), 0.0)
            reply = self.launcher.call(
                {"op": "wait", "pid": self.pid, "seconds": seconds}, (), seconds
            )
            self.status = reply["status"]
        return self.status

    def exit_reason(self) -> str:
        status = self.wait()
        if status is None:
            return "timeout"
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            return f"killed by signal {sig} ({signal.Signals(sig).name})"
        return f"exited with code {os.WEXITSTATUS(status)}"

    def close(self) -> None:
        """End the case: kill every process the guest left, empty its home."""
        self.sock.close()
        for fd in (self.out_r, self.err_r):
            if fd is not None:
                os.close(fd)
        self.launcher.call({"op": "reset"})


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits (None where the kernel has none)."""
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None


def _read_into(fd: int, buf: bytearray, cap: int) -> bool:
    """Read one chunk into ``buf`` (kept under ``cap``); False at end of file."""
    data = os.read(fd, 1 << 16)
    buf += data[: max(cap - len(buf), 0)]
    return bool(data)


def rebuild(raised: dict) -> BaseException:
    """The candidate's exception as the nearest builtin Exception type (else CandidateFailure)."""
    for name in raised["types"]:
        cls = getattr(builtins, name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            return cls(raised["message"])
    return CandidateFailure("error: " + describe_raised(raised))


def describe_raised(raised) -> str:
    if not isinstance(raised, dict):
        return str(raised)
    line = f" (line {raised['line']})" if raised.get("line") else ""
    return f"{raised['types'][0]}: {raised['message']}{line}"


def write_back(args, kwargs, mutated: dict) -> None:
    """Apply in-place changes the candidate made to its arguments to the tests' own objects."""
    for key, encoded in mutated.items():
        target = args[int(key)] if key.isdigit() else kwargs.get(key)
        new = decode(encoded)
        if isinstance(target, list) and isinstance(new, list):
            target[:] = new
        elif isinstance(target, dict) and isinstance(new, dict):
            target.clear()
            target.update(new)
        elif isinstance(target, set | collections.deque) and isinstance(
            new, set | collections.deque
        ):
            target.clear()
            target.update(new) if isinstance(target, set) else target.extend(new)


# -- test code ---------------------------------------------------------------------------------


def free_names(sources: list[str]) -> set[str]:
    """Names the test code reads but neither defines, imports, binds nor gets from builtins."""
    loaded, bound = set(), set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Name):
                (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound.add(node.name)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return loaded - bound - set(dir(builtins))


def make_proxy(guest: Guest, name: str):
    def proxy(*args, **kwargs):
        return guest.call(name, args, kwargs)

    proxy.__name__ = proxy.__qualname__ = name
    return proxy


def test_namespace(guest: Guest, spec: dict, case: dict, ready: list[str]) -> dict:
    """Trusted builtins; proxies only for the candidate's names the tests use and do not own;
    standard-library modules the tests use without importing them."""
    sources = [spec.get("setup", ""), case.get("check") or case.get("code", "")]
    namespace = {"__name__": "__tests__", "__builtins__": builtins}
    for name in sorted(free_names(sources)):
        if name in ready:
            namespace[name] = make_proxy(guest, name)
        elif name in sys.stdlib_module_names:
            with contextlib.suppress(ImportError):
                namespace[name] = importlib.import_module(name)
    return namespace


def run_assert(guest: Guest, spec: dict, case: dict, ready: list[str]) -> dict:
    """Execute the trusted test code here, with the candidate's functions as proxies."""
    try:
        namespace = test_namespace(guest, spec, case, ready)
        if spec.get("setup"):
            exec(compile(spec["setup"], "setup.py", "exec"), namespace)  # noqa: S102 - trusted
        if "check" in case:
            entry = make_proxy(guest, case["entry_point"])
            namespace[case["entry_point"]] = entry  # over the prompt's docstring-only stub
            exec(compile(case["check"], "tests.py", "exec"), namespace)  # noqa: S102 - trusted
            namespace["check"](entry)
        else:
            exec(compile(case["code"], "tests.py", "exec"), namespace)  # noqa: S102 - trusted
    except CandidateFailure:
        pass  # recorded on the guest
    except AssertionError as exc:
        detail = f": {exc}" if str(exc) else ""
        return {
            "status": "fail",
            "reason": guest.failure or f"wrong answer: assertion failed{detail}",
        }
    except Exception as exc:
        if guest.raised is not None and exc is guest.raised[0]:
            return {"status": "fail", "reason": guest.failure or failure(guest.raised[1])}
        reason = f"error: {type(exc).__name__}: {str(exc)[:300]}"
        return {"status": "fail", "reason": guest.failure or reason}
    if guest.failure is not None:
        return {"status": "fail", "reason": guest.failure}
    return {"status": "pass"}


def failure(message: str) -> str:
    if message == "timeout" or message.startswith(("error: ", "memory: ")):
        return message
    if message.startswith("MemoryError"):
        return "memory: " + message
    return "error: " + message


# -- one case ----------------------------------------------------------------------------------


def io_verdict(guest: Guest) -> dict:
    """The digest of what the program printed, or why it did not end normally."""
    out, err, finished = guest.output()
    status = guest.wait() if finished else None
    error = None
    if status is None:
        error = "timeout"
    elif status != 0:
        last = err.strip().splitlines()[-1:] or [""]
        error = f"error: {guest.exit_reason()}: {last[0][:300]}".rstrip(": ")
    preview = out[:200]
    return {"status": "result", "digest": output_digest(out), "preview": preview, "error": error}


def call_verdict(guest: Guest, spec: dict, case: dict) -> dict:
    reply = guest.request(spec["fn_name"], decode(case["args"]), decode(case["kwargs"]))
    if "raised" in reply:
        return {"status": "fail", "reason": failure(describe_raised(reply["raised"]))}
    text = json.dumps(reply["value"], ensure_ascii=False)
    if len(text) <= VALUE_CAP:
        return {"status": "result", "value": reply["value"]}
    return {"status": "result", "digest": canonical_digest(reply["value"]), "preview": text[:200]}


def run_case(launcher: Launcher, payload: dict, case: dict) -> dict:
    """Run one case in a fresh guest; the verdict mapping (status pass / fail / result)."""
    spec = payload["spec"]
    kind = spec["kind"]
    guest = Guest(launcher, payload, kind, case.get("stdin", ""), spec["case_timeout"])
    try:
        if kind == "io":
            return io_verdict(guest)
        ready = guest.ready()
        if kind == "call":
            return call_verdict(guest, spec, case)
        return run_assert(guest, spec, case, ready)
    except CandidateFailure as exc:
        return {"status": "fail", "reason": failure(str(exc))}
    finally:
        guest.close()


def main() -> None:
    sys.set_int_max_str_digits(0)  # test code may print or compare ints of any size
    payload = json.loads(sys.stdin.buffer.read())
    os.close(0)
    token = payload.pop("token")
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="surrogateescape")
    sys.stdout = sys.stderr  # whatever test code prints never mixes with the verdicts
    launcher = Launcher(int(os.environ["GRPOKIT_GUEST_FD"]))
    for index, case in enumerate(payload["spec"]["cases"]):
        try:
            verdict = run_case(launcher, payload, case)
        except (EOFError, OSError, TimeoutError, ValueError) as exc:
            verdict = {"status": "fail", "reason": f"harness: {type(exc).__name__}: {exc}"}
        out.write(f"{token} {json.dumps({'case': index, **verdict}, ensure_ascii=False)}\n")
        out.flush()
    out.write(f"{token} {json.dumps({'done': True})}\n")
    out.flush()


if __name__ == "__main__":
    main()
