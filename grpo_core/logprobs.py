"""Memory-lean per-token log-probs and entropies from next-token logits.

For the logits z in R^V at one position and the token o_t actually generated there,

    log pi(o_t | q, o_<t) = z_{o_t} - logsumexp(z),

and the sequence log-prob is the sum of these over t (GRPO textbook, eq. 1.6). The naive
``torch.log_softmax(logits, -1).gather(...)`` materialises a full [B, T, V] log-prob tensor to
keep only B*T numbers out of it; with a 32k-152k vocabulary that copy (and the one more that
its backward makes) dominates memory. Here the [B*T, V] rows are processed ``chunk_size`` rows at
a time: the forward only ever holds one chunk of temporaries, autograd saves just the logits
(a reference, no copy) and the ids, and the backward allocates the gradient once and fills it
chunk by chunk, recomputing that chunk's softmax:

    d log pi(o_t) / d z_v = [v = o_t] - softmax(z)_v,   softmax(z)_v = exp(z_v - logsumexp(z)).

Both directions use torch's fused (log_)softmax kernels on the chunk: on CPU, recomputing the
softmax that way measured faster than exp(z - logsumexp) from a saved [B*T] logsumexp, so none
is kept.

Low-precision logits (bfloat16, float16) are reduced in float32 and their log-probs come back as
float32 (the ratios pi_theta / pi_old built from them need the precision); float32 and float64
logits give log-probs of the same dtype. The gradient always has the logits' dtype.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

# Default chunk: as many rows as fit in 2**25 elements (128 MiB of float32, 1024 rows of a 32k
# vocabulary, i.e. 1/8 of the naive log_softmax copy at B=8, T=1024). Tuned with
# benchmarks/bench_logprobs.py on the 2-core CPU box, where each chunk costs a few parallel regions:
# on an idle machine cache-sized chunks (16-64 rows x 32k) were ~3x faster than naive while 1024
# rows ran at par, but when other processes share the cores every region can wait a scheduler
# tick, and 64-row chunks fell to 1.4x slower than naive while 1024 rows stayed ~2x faster. Pass
# chunk_size=64 for speed on a dedicated machine. See benchmarks/results/logprobs.md.
DEFAULT_CHUNK_ELEMENTS = 1 << 25

_Block = tuple[int, int, Tensor]  # (first flat row, end flat row, [rows, V] view of the logits)


def token_logprobs(logits: Tensor, token_ids: Tensor, *, chunk_size: int | None = None) -> Tensor:
    """Log-prob of each chosen token: ``log pi(o_t) = z_{o_t} - logsumexp(z)`` (terms of eq. 1.6).

    Args:
        logits: [B, T, V] next-token logits, any floating dtype; may require grad.
        token_ids: [B, T] integer ids in [0, V) of the tokens whose log-prob is wanted.
        chunk_size: rows of the flattened [B*T, V] view reduced at once (the temporaries hold
            about ``chunk_size * V`` elements); values >= B*T process everything in one go.
            None (default) picks ``max(1, DEFAULT_CHUNK_ELEMENTS // V)`` rows.

    Returns:
        [B, T] log-probs, float32 for 16-bit logits, else the logits' dtype. Differentiable
        w.r.t. ``logits`` with a chunked backward that never holds more than the gradient itself
        plus one chunk; equal (to rounding) to ``log_softmax(logits, -1).gather(-1, ids[..., None])``.
    """
    rows = _check_logits(logits, chunk_size)
    ids = _check_ids(logits, token_ids)
    if torch.is_grad_enabled() and logits.requires_grad:
        return _TokenLogprobs.apply(logits, ids, rows)
    with torch.no_grad():
        return _forward(logits, ids, rows)


@torch.no_grad()
def token_entropy(logits: Tensor, *, chunk_size: int | None = None) -> Tensor:
    """Entropy of the full next-token distribution at each position, for monitoring only.

    ``H_t = -sum_v p_v log p_v`` with ``p = softmax(z)``, reduced ``chunk_size`` rows at a time.
    Runs under ``torch.no_grad()``: the result carries no gradient (do not put it in a loss).

    Args:
        logits: [B, T, V] next-token logits, any floating dtype.
        chunk_size: rows of the flattened [B*T, V] view reduced at once (None: as above).

    Returns:
        [B, T] entropies in nats, float32 for 16-bit logits, else the logits' dtype.
    """
    rows = _check_logits(logits, chunk_size)
    out = logits.new_empty(logits.shape[:2], dtype=_reduce_dtype(logits.dtype))
    flat = out.view(-1)
    scratch = _Scratch(logits, rows, out.dtype)
    for start, stop, block in _row_blocks(logits, rows):
        p = torch.softmax(block, dim=-1, dtype=out.dtype, out=scratch.take(stop - start))
        # -sum p log p; entr(0) = 0 keeps masked (-inf) vocabulary entries out of the sum.
        torch.sum(torch.special.entr(p, out=p), dim=-1, out=flat[start:stop])
    return out


class _TokenLogprobs(torch.autograd.Function):
    """Chunked z_{o_t} - logsumexp(z) that saves only the logits (no copy) and the ids."""

    @staticmethod
    def forward(ctx: Any, logits: Tensor, ids: Tensor, chunk_size: int) -> Tensor:
        ctx.save_for_backward(logits, ids)
        ctx.chunk_size = chunk_size
        return _forward(logits, ids, chunk_size)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor, None, None]:
        logits, ids = ctx.saved_tensors
        return _backward(logits, ids, grad_out, ctx.chunk_size), None, None


def _forward(logits: Tensor, ids: Tensor, chunk_size: int) -> Tensor:
    """[B, T] log-probs without any [B, T, V]-sized temporary (one chunk at a time)."""
    batch, steps, _ = logits.shape
    out = logits.new_empty((batch, steps), dtype=_reduce_dtype(logits.dtype))
    flat_out, flat_ids = out.view(-1, 1), ids.reshape(-1, 1)
    scratch = _Scratch(logits, chunk_size, out.dtype)
    for start, stop, block in _row_blocks(logits, chunk_size):
        # log_softmax's fused kernel gives z - logsumexp(z) for the whole chunk in one pass.
        logp = torch.log_softmax(block, dim=-1, dtype=out.dtype, out=scratch.take(stop - start))
        torch.gather(logp, -1, flat_ids[start:stop], out=flat_out[start:stop])
    return out


def _backward(logits: Tensor, ids: Tensor, grad_out: Tensor, chunk_size: int) -> Tensor:
    """grad z_v = g * ([v = o_t] - softmax(z)_v), written chunk by chunk into one buffer."""
    batch, steps, vocab = logits.shape
    grad = torch.empty((batch, steps, vocab), dtype=logits.dtype, device=logits.device)
    grad_flat = grad.view(-1, vocab)
    work_dtype = _reduce_dtype(logits.dtype)
    g, flat_ids = grad_out.reshape(-1, 1).to(work_dtype), ids.reshape(-1, 1)
    # 16-bit logits: compute in a float32 scratch chunk, then round into the gradient.
    scratch = None if logits.dtype == work_dtype else _Scratch(logits, chunk_size, work_dtype)
    for start, stop, block in _row_blocks(logits, chunk_size):
        rows = grad_flat[start:stop]
        work = rows if scratch is None else scratch.take(stop - start)
        # Recomputing softmax with its fused kernel is faster than exp(z - saved lse) here.
        torch.softmax(block, dim=-1, dtype=work_dtype, out=work)
        work.mul_(g[start:stop].neg())
        work.scatter_add_(-1, flat_ids[start:stop], g[start:stop])
        if scratch is not None:
            rows.copy_(work)
    return grad


class _Scratch:
    """One [chunk_size, V] buffer reused by every chunk (no allocator churn, one chunk alive)."""

    def __init__(self, logits: Tensor, chunk_size: int, dtype: torch.dtype) -> None:
        batch, steps, vocab = logits.shape
        rows = min(chunk_size, batch * steps)
        self._buffer = torch.empty((rows, vocab), dtype=dtype, device=logits.device)

    def take(self, rows: int) -> Tensor:
        return self._buffer[:rows]


def _row_blocks(logits: Tensor, chunk_size: int) -> Iterator[_Block]:
    """Yield (start, stop, [stop - start, V] view) covering the flattened rows of ``logits``.

    Contiguous-enough logits are viewed as [B*T, V] and cut into ``chunk_size`` rows. Logits whose
    batch and time dims cannot be merged without a copy (e.g. ``logits[:, :-1]``) are cut per
    sequence instead, so no [B, T, V] copy is ever made.
    """
    batch, steps, vocab = logits.shape
    try:
        flat = logits.view(batch * steps, vocab)
    except RuntimeError:
        for b in range(batch):
            for t0 in range(0, steps, chunk_size):
                t1 = min(t0 + chunk_size, steps)
                yield b * steps + t0, b * steps + t1, logits[b, t0:t1]
        return
    for start in range(0, batch * steps, chunk_size):
        stop = min(start + chunk_size, batch * steps)
        yield start, stop, flat[start:stop]


def _reduce_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


def _check_logits(logits: Tensor, chunk_size: int | None) -> int:
    """Validate the logits and chunk size; return the rows per chunk."""
    if not isinstance(logits, Tensor) or logits.ndim != 3:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a [B, T, V] tensor, got shape {shape}")
    if not logits.is_floating_point():
        raise ValueError(f"logits must be floating point, got dtype {logits.dtype}")
    if logits.shape[-1] == 0:
        raise ValueError(f"logits {tuple(logits.shape)} has an empty vocabulary dimension V")
    if chunk_size is None:
        return max(1, DEFAULT_CHUNK_ELEMENTS // logits.shape[-1])
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
    return chunk_size


def _check_ids(logits: Tensor, token_ids: Tensor) -> Tensor:
    """Validate shape, dtype and range of the ids; return them as int64 on the logits' device."""
    if not isinstance(token_ids, Tensor) or token_ids.shape != logits.shape[:2]:
        shape = (
            tuple(token_ids.shape) if isinstance(token_ids, Tensor) else type(token_ids).__name__
        )
        raise ValueError(
            f"token_ids must be [B, T] = {tuple(logits.shape[:2])} to match logits "
            f"{tuple(logits.shape)}, got shape {shape}"
        )
    if token_ids.is_floating_point() or token_ids.is_complex() or token_ids.dtype == torch.bool:
        raise ValueError(f"token_ids must be an integer tensor, got dtype {token_ids.dtype}")
    ids = token_ids.to(device=logits.device, dtype=torch.long)
    if ids.numel():
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= logits.shape[-1]:
            bad = lo if lo < 0 else hi
            where = tuple(int(i) for i in (ids == bad).nonzero()[0])
            raise ValueError(
                f"token_ids must lie in [0, V={logits.shape[-1]}), got {bad} at index {where}"
            )
    return ids
