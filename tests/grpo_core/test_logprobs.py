"""Chunked token log-probs and entropies against the naive full log_softmax path (eq. 1.6)."""

import pytest
import torch

import grpo_core.logprobs as logprobs_module
from grpo_core import token_entropy, token_logprobs

B, T, V = 3, 5, 37  # B*T = 15 rows


def naive_logprobs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits, -1).gather(-1, ids[..., None]).squeeze(-1)


def make(dtype=torch.float64, seed=0, shape=(B, T, V)):
    gen = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(shape, generator=gen, dtype=torch.float64)
    ids = torch.randint(0, shape[-1], shape[:2], generator=gen)
    return logits.to(dtype), ids


# 1 row at a time, a non-divisor of 15, an exact divisor, exactly B*T, and more than B*T.
CHUNKS = [1, 4, 5, 15, 1000]


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_values_and_gradients_match_naive_float64(chunk_size):
    logits, ids = make()
    weights = torch.randn(B, T, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    lean_x = logits.clone().requires_grad_()
    naive_x = logits.clone().requires_grad_()

    lean = token_logprobs(lean_x, ids, chunk_size=chunk_size)
    naive = naive_logprobs(naive_x, ids)
    (lean * weights).sum().backward()
    (naive * weights).sum().backward()

    assert lean.shape == (B, T) and lean.dtype == torch.float64
    torch.testing.assert_close(lean, naive, rtol=0, atol=1e-6)
    torch.testing.assert_close(lean_x.grad, naive_x.grad, rtol=0, atol=1e-6)
    assert lean_x.grad.abs().sum() > 0


def test_default_chunk_is_sized_by_vocabulary(monkeypatch):
    # 100 elements per chunk at V=37 -> 2 rows per chunk: 8 chunks over the 15 rows.
    monkeypatch.setattr(logprobs_module, "DEFAULT_CHUNK_ELEMENTS", 100)
    seen = []
    real_blocks = logprobs_module._row_blocks

    def spy(logits, rows):
        seen.append(rows)
        return real_blocks(logits, rows)

    monkeypatch.setattr(logprobs_module, "_row_blocks", spy)
    logits, ids = make()
    x = logits.clone().requires_grad_()
    lean = token_logprobs(x, ids)
    lean.sum().backward()
    ref = logits.clone().requires_grad_()
    naive_logprobs(ref, ids).sum().backward()
    assert seen == [2, 2]  # forward and backward
    torch.testing.assert_close(lean, naive_logprobs(logits, ids), rtol=0, atol=1e-12)
    torch.testing.assert_close(x.grad, ref.grad, rtol=0, atol=1e-12)
    token_entropy(logits)
    assert seen[-1] == 2


@pytest.mark.parametrize("chunk_size", [1, 4, 1000])
def test_sliced_logits_that_cannot_be_flattened(chunk_size):
    # logits[:, :-1] (the usual next-token shift) cannot be viewed as [B*T, V] without a copy.
    full, ids = make(shape=(B, T + 1, V))
    sliced = full.clone().requires_grad_()
    ref = full.clone().requires_grad_()
    lean = token_logprobs(sliced[:, :-1], ids[:, :-1], chunk_size=chunk_size)
    naive = naive_logprobs(ref[:, :-1], ids[:, :-1])
    lean.sum().backward()
    naive.sum().backward()
    torch.testing.assert_close(lean, naive, rtol=0, atol=1e-6)
    torch.testing.assert_close(sliced.grad, ref.grad, rtol=0, atol=1e-6)
    assert torch.all(sliced.grad[:, -1] == 0)


def test_gradcheck_float64():
    logits, ids = make(shape=(2, 3, 7))
    logits.requires_grad_()
    assert torch.autograd.gradcheck(lambda z: token_logprobs(z, ids, chunk_size=4), (logits,))


def test_sequence_logprob_is_sum_of_token_logprobs():
    # eq. 1.6: log pi(o|q) = sum_t log pi(o_t | q, o_<t); with probabilities 0.4, 0.5, 0.2.
    probs = torch.tensor([[0.4, 0.6], [0.5, 0.5], [0.2, 0.8]], dtype=torch.float64)
    logp = token_logprobs(probs.log()[None], torch.tensor([[0, 0, 0]]), chunk_size=2)
    assert logp.sum().exp().item() == pytest.approx(0.4 * 0.5 * 0.2)


def test_no_grad_inputs_give_plain_tensor():
    logits, ids = make()
    out = token_logprobs(logits, ids, chunk_size=4)
    assert out.grad_fn is None and not out.requires_grad
    torch.testing.assert_close(out, naive_logprobs(logits, ids), rtol=0, atol=1e-12)
    with torch.no_grad():
        out = token_logprobs(logits.clone().requires_grad_(), ids)
    assert out.grad_fn is None


@pytest.mark.parametrize(
    ("dtype", "atol"), [(torch.float32, 1e-5), (torch.bfloat16, 1e-5), (torch.float16, 1e-5)]
)
def test_low_precision_values_close_to_float64_reference(dtype, atol):
    logits, ids = make(dtype)
    lean = token_logprobs(logits, ids, chunk_size=4)
    # Reduced in float32, so it matches the exact log-probs of the *rounded* logits closely.
    reference = naive_logprobs(logits.double(), ids)
    assert lean.dtype == torch.float32
    torch.testing.assert_close(lean.double(), reference, rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_low_precision_gradient_close_to_float64(dtype):
    logits, ids = make(dtype)
    x = logits.clone().requires_grad_()
    token_logprobs(x, ids, chunk_size=4).sum().backward()
    ref = logits.double().requires_grad_()
    naive_logprobs(ref, ids).sum().backward()
    assert x.grad.dtype == dtype
    atol = 1e-6 if dtype == torch.float32 else 1e-2  # bf16 has 8 mantissa bits
    torch.testing.assert_close(x.grad.double(), ref.grad, rtol=0, atol=atol)


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_entropy_matches_naive(chunk_size):
    logits, _ = make()
    p = torch.softmax(logits, -1)
    naive = -(p * torch.log_softmax(logits, -1)).sum(-1)
    x = logits.clone().requires_grad_()
    ent = token_entropy(x, chunk_size=chunk_size)
    torch.testing.assert_close(ent, naive, rtol=0, atol=1e-10)
    assert ent.grad_fn is None  # monitoring only


def test_entropy_bounds_and_masked_vocabulary():
    uniform = torch.zeros(1, 2, 8)
    torch.testing.assert_close(
        token_entropy(uniform), torch.full((1, 2), torch.log(torch.tensor(8.0)).item())
    )
    masked = torch.full((1, 1, 8), float("-inf"))
    masked[..., :2] = 0.0  # two live tokens, six masked out
    torch.testing.assert_close(token_entropy(masked), torch.log(torch.tensor([[2.0]])))


def test_bad_shapes_and_values_raise():
    logits, ids = make()
    with pytest.raises(
        ValueError, match=r"logits must be a \[B, T, V\] tensor, got shape \(15, 37\)"
    ):
        token_logprobs(logits.reshape(15, V), ids)
    with pytest.raises(
        ValueError, match=r"token_ids must be \[B, T\] = \(3, 5\).*got shape \(3, 4\)"
    ):
        token_logprobs(logits, ids[:, :4])
    with pytest.raises(ValueError, match="integer tensor, got dtype torch.float32"):
        token_logprobs(logits, ids.float())
    with pytest.raises(ValueError, match="floating point"):
        token_logprobs(ids[..., None].expand(B, T, V), ids)
    bad = ids.clone()
    bad[2, 1] = V
    with pytest.raises(ValueError, match=r"\[0, V=37\), got 37 at index \(2, 1\)"):
        token_logprobs(logits, bad)
    bad[2, 1] = -1
    with pytest.raises(ValueError, match=r"got -1 at index \(2, 1\)"):
        token_logprobs(logits, bad)
    for chunk_size in (0, -3, 2.5):
        with pytest.raises(ValueError, match="chunk_size must be a positive int or None"):
            token_logprobs(logits, ids, chunk_size=chunk_size)
    with pytest.raises(ValueError, match=r"logits must be a \[B, T, V\] tensor"):
        token_entropy(logits[0])


def test_empty_batch():
    logits, ids = make(shape=(0, 4, V))
    assert token_logprobs(logits, ids).shape == (0, 4)
    assert token_entropy(logits).shape == (0, 4)
