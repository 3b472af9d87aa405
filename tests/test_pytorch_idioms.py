"""Everyday PyTorch lines, run unchanged on PyTorch and on minigrad (``import minigrad as torch``).

Each idiom is source text executed twice: once with ``torch``, ``F`` = ``torch.nn.functional``,
and once with ``torch`` = ``minigrad``, ``F`` = ``minigrad.nn.functional``, over the same inputs
(float64 ``x v`` (3, 4), ``w`` (4, 5), ``b`` (5,), ``seq`` (2, 3, 4) requiring grad; int64
``idx`` (3,) in [0, 4); bool ``mask`` (3, 4)). An expression's value, or what a block leaves in
``out``, must agree in structure, dtype and values, and backward through it must give every input
the same gradient; where PyTorch raises, minigrad must raise the same exception type. ``PHASE_2``
holds the idioms of issue 15's second phase: dim=, named max/min, size(), the tensor factory and
in-place ops with PyTorch's rules.
"""
import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as mF

torch = pytest.importorskip("torch")

WORKS = [
    # matrices
    "x.t().mm(v)", "x.mm(w)", "seq.bmm(seq.transpose(1, 2))", "torch.matmul(x, w) + b", "torch.matmul(seq, w)",
    "x @ w", "F.linear(x, w.t(), b)", "x.T",
    # elementwise and powers
    "x.pow(2).sum()", "(x.abs() + 0.5).pow(v)", "x.square().mean()", "(x ** 3).sum()", "x.sign() * x",
    "torch.tanh(x)", "torch.sigmoid(x)", "torch.exp(x)", "torch.log(x.abs() + 1)", "x.abs().sqrt()",
    "x.clamp(min=0)", "x.relu()",
    # reductions
    "x.sum()", "x.mean()", "x.max()", "x.norm()", "x.norm(p=1, dim=1)", "x.norm(dim=1, keepdim=True)",
    "x.norm(p=float('inf'))", "x.std()", "x.std(dim=0)", "x.std(dim=1, unbiased=False, keepdim=True)",
    "x.std(correction=0)", "x.var(unbiased=False)", "torch.logsumexp(x, dim=1)",
    "torch.logsumexp(seq, dim=-1, keepdim=True)",
    # selecting and masking
    "x.masked_fill(mask, 0.0)", "x.masked_fill(mask, -1e9).softmax(-1)", "torch.where(mask, x, v)",
    "x.gather(1, idx.unsqueeze(1))", "x.index_select(1, idx)", "x.index_select(0, idx[:2])", "x[:, 1:3]", "x[idx]",
    "x.topk(2).values", "x.topk(2, dim=0, largest=False)", "x.sort(descending=True)", "x.sort(dim=0)",
    "x.sort(dim=1).indices", "x.argmax(1)",
    # shapes and copies
    "x.repeat(2, 1)", "x.repeat(1, 2, 3)", "x.t().contiguous().view(-1)", "x.view(4, 3)", "x.reshape(-1)",
    "x.unsqueeze(0)", "torch.cat([x, v], 1)", "torch.stack([x, v])", "x.detach()",
    # dtypes
    "x.to(torch.float32)", "x.float()", "x.double()", "idx.long()", "idx.int()", "mask.float()",
    "x.bool()", "(x > 0).float().mean()", "x.to(v)",
    # einsum
    "torch.einsum('bij,jk->bik', seq, w)", "torch.einsum('ij,ij->i', x, v)", "torch.einsum('ii->i', x.mm(x.t()))",
    "torch.einsum('ij,jk,k->i', x, w, b)", "torch.einsum('bij->j', seq)", "torch.einsum('...j,jk', seq, w)",
    # padding
    "F.pad(seq, (1, 2))", "F.pad(seq, (1, 1, 2, 0), value=-1.0)", "F.pad(seq, (0, -1))",
    "F.pad(seq, (2, 2), mode='reflect')", "F.pad(seq, (1, 1), mode='replicate')", "F.pad(seq, (1, 3), mode='circular')",
    # activations and losses
    "F.gelu(x)", "F.gelu(x, approximate='tanh')", "F.silu(x)", "F.elu(x)", "F.elu(x, alpha=0.5)", "F.relu6(x * 4)",
    "F.hardtanh(x)", "F.hardtanh(x, -0.5, 0.5)", "F.hardswish(x * 3)", "F.mish(x)", "F.softmax(x, dim=-1)",
    "F.log_softmax(x, dim=1)", "F.cross_entropy(x, idx)", "F.mse_loss(x, v)",
    # numpy and back
    "np.asarray(x.detach()).sum()", "torch.from_dlpack(np.arange(3.0))",
    # blocks
    "with torch.no_grad():\n    out = x * 2\nout = out.requires_grad",
    "values, indices = x.topk(3, dim=1)\nout = values * 2 + indices",
    "h = torch.tanh(x.mm(w) + b)\nout = F.cross_entropy(h, idx.clamp(max=4))",
]

PHASE_2 = [
    # dim= / keepdim= on the existing methods and functions
    "x.sum(dim=1)", "x.mean(dim=0, keepdim=True)", "x.argmax(dim=1)", "x.argmax(dim=1, keepdim=True)",
    "x.softmax(dim=-1)", "x.log_softmax(dim=1)", "torch.cat([x, v], dim=1)", "torch.stack([x, v], dim=0)",
    "x.chunk(2, dim=1)", "x.split(2, dim=1)", "x.unsqueeze(dim=1)", "x.unsqueeze(0).squeeze(dim=0)",
    "seq.flatten(start_dim=1)", "seq.flatten(0, 1)", "x.flip(dims=(0,))", "x.flip(0, 1)", "x.var(0, True)",
    "x.std(1, False, True)", "x.amax(dim=(0, 1))", "x.amin(1)",
    # max(dim) / min(dim) return the named pair (values, indices); max() a tensor; max(other) the maximum
    "x.max(dim=1).values", "x.max(1)[1]", "x.min(dim=0).indices", "x.max(dim=1)", "x.max(dim=1, keepdim=True)",
    "x.min()", "x.max(v)", "values, indices = x.max(1)\nout = values * 2 + indices",
    # size() is the shape, dim() the rank
    "x.size()", "x.size(1)", "x.size(-1)", "x.dim()", "x.view(x.size(0), -1)", "x.numel()",
    # the tensor factory
    "torch.tensor([[1.0, 2.0]])", "torch.tensor([1, 2], dtype=torch.long)", "torch.tensor(3.5)",
    "torch.tensor([[1.0, 2.0]], requires_grad=True) * 2", "torch.as_tensor(np.arange(3.0))",
    # in-place ops, with PyTorch's rules
    "y = x.detach() * 1\nz = y\ny -= 1\nout = z",
    "y = x.detach() * 1\ny.add_(1).mul_(2)\nout = y",
    "y = x.detach() * 1\ny.sub_(v, alpha=2).div_(4)\nout = y",
    "y = x.detach() * 1\ny.zero_()\nout = y",
    "y = x.detach() * 1\ny.clamp_(min=0)\nout = y",
    "y = x.detach() * 1\ny.copy_(b[:4])\nout = y",
    "with torch.no_grad():\n    y = x * 1\n    y.fill_(3.0)\nout = y",
    "y = x * 1\ny.mul_(2)\ny += v\nout = y",  # recorded: gradients reach x and v
    "out = torch.zeros(3, 4)\nout += x * v",
    "w2 = w.detach().clone().requires_grad_()\nloss = (x.mm(w2) ** 2).sum()\nloss.backward()\n"
    "with torch.no_grad():\n    w2 -= 0.1 * w2.grad\n    w2.grad.zero_()\nout = w2",  # the hand-written SGD step
    "out = x.add_(1)",  # a leaf that requires grad: RuntimeError in both
    "x += 1",  # likewise
    "y = x * 1\nz = y * v\ny.mul_(2)\nz.sum().backward()",  # y was saved by the product: RuntimeError
    "z = x * v\nwith torch.no_grad():\n    v.mul_(2)\nz.sum().backward()",  # likewise, a leaf changed
    "x.clone()",
]


def _inputs():
    rng = np.random.default_rng(15)
    return {"x": rng.standard_normal((3, 4)), "v": rng.standard_normal((3, 4)), "w": rng.standard_normal((4, 5)),
            "b": rng.standard_normal(5), "seq": rng.standard_normal((2, 3, 4))}, {
        "idx": rng.integers(0, 4, 3), "mask": rng.random((3, 4)) < 0.4}


def _namespace(lib):
    floats, others = _inputs()
    if lib is torch:
        ns = {k: torch.tensor(a, requires_grad=True) for k, a in floats.items()}
        ns.update({k: torch.tensor(a) for k, a in others.items()})
        ns.update(torch=torch, F=torch.nn.functional)
    else:
        ns = {k: minigrad.Tensor(a, requires_grad=True) for k, a in floats.items()}
        ns.update({k: minigrad.Tensor(a) for k, a in others.items()})
        ns.update(torch=minigrad, F=mF)
    ns["np"] = np
    return ns


def _run(code: str, lib):
    """Execute the idiom; returns (namespace, result or None, exception or None)."""
    ns = _namespace(lib)
    src = code if "\n" in code or code.startswith("out =") else f"out = {code}"
    try:
        exec(compile(src, "<idiom>", "exec"), ns)
    except Exception as e:  # compared with the other engine's behaviour below
        return ns, None, e
    return ns, ns.get("out"), None


def _is_tensor(o) -> bool:
    return isinstance(o, (torch.Tensor, minigrad.Tensor))


def _leaves(o, path="out") -> list:
    """(path, value) for every tensor, array or number in the result, in order; tuples recursively
    (a torch.Size is compared as the tuple it is: minigrad's size() is a plain tuple)."""
    if isinstance(o, torch.Size):
        o = tuple(o)
    if isinstance(o, tuple) and not _is_tensor(o):
        return [("type", type(o).__name__)] + [leaf for i, v in enumerate(o) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, o)]


def _array(o):
    if isinstance(o, torch.Tensor):
        return o.detach().numpy()
    if isinstance(o, minigrad.Tensor):
        return o.data
    return np.asarray(o)


def _check_same(code: str) -> None:
    tns, tout, terr = _run(code, torch)
    mns, mout, merr = _run(code, minigrad)
    if terr is not None:  # PyTorch refuses this line: minigrad must refuse it the same way
        assert merr is not None and type(merr) is type(terr), f"PyTorch raised {terr!r}, minigrad gave {merr or mout!r}"
        return
    if merr is not None:
        raise merr
    tl, ml = _leaves(tout), _leaves(mout)
    assert [p for p, _ in tl] == [p for p, _ in ml], (tl, ml)
    for (path, t), (_, m) in zip(tl, ml):
        if path == "type":
            assert t == m, f"a {t} in PyTorch, a {m} in minigrad"
            continue
        ta, ma = _array(t), _array(m)
        assert ta.shape == ma.shape and ta.dtype == ma.dtype, f"{path}: {ta.dtype}{ta.shape} vs {ma.dtype}{ma.shape}"
        np.testing.assert_allclose(ma, ta, rtol=1e-10, atol=1e-12, err_msg=path)
    differentiable = [(t, m) for (_, t), (_, m) in zip(tl, ml) if isinstance(t, torch.Tensor) and t.requires_grad]
    if not differentiable:
        return
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(tuple(t.shape)) for t, _ in differentiable]
    sum((t * torch.from_numpy(w).to(t.dtype)).sum() for (t, _), w in zip(differentiable, weights)).backward()
    sum((m * w.astype(m.dtype)).sum() for (_, m), w in zip(differentiable, weights)).backward()
    for name in ("x", "v", "w", "b", "seq"):
        tg, mg_ = tns[name].grad, mns[name].grad
        assert (tg is None) == (mg_ is None), f"{name}.grad: {tg} in PyTorch, {mg_} in minigrad"
        if tg is not None:
            np.testing.assert_allclose(mg_.data, tg.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{name}.grad")


@pytest.mark.parametrize("code", WORKS)
def test_idiom_runs_the_same_on_both_engines(code):
    _check_same(code)


@pytest.mark.parametrize("code", PHASE_2)
def test_phase_2_idiom_runs_the_same_on_both_engines(code):
    _check_same(code)


def test_the_lists_do_not_overlap():
    assert not set(WORKS) & set(PHASE_2) and len(set(WORKS + PHASE_2)) == len(WORKS) + len(PHASE_2)
