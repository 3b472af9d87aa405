"""Module: discovery by walking attributes, dotted names, tied weights, modes, state dicts."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad import Tensor, nn
from minigrad.nn import Parameter, StateDictError


class Tied(nn.Module):
    """An embedding whose table is also the output layer's weight, plus nested containers."""

    def __init__(self, seed=0):
        g = np.random.default_rng(seed)
        self.emb = nn.Embedding(5, 3, dtype=np.float64, generator=g)
        self.blocks = [nn.Linear(3, 3, dtype=np.float64, generator=g), (nn.Tanh(), nn.Linear(3, 3, generator=g))]
        self.heads = {"out": nn.Linear(3, 5, bias=False, generator=g), "extra": [Parameter(np.zeros(2))]}
        self.scale = Parameter(np.ones(1))
        self.heads["out"].weight = self.emb.weight  # tied: one parameter, two names

    def forward(self, idx):
        h = self.emb(idx)
        h = self.blocks[0](h).tanh()
        return self.heads["out"](h) * self.scale


EXPECTED_NAMES = [
    "emb.weight", "blocks.0.weight", "blocks.0.bias", "blocks.1.1.weight", "blocks.1.1.bias",
    "heads.extra.0", "scale",
]


def test_discovery_walks_lists_tuples_dicts_in_definition_order():
    m = Tied()
    assert [n for n, _ in m.named_parameters()] == EXPECTED_NAMES
    assert [type(c).__name__ for c in m.children()] == ["Embedding", "Linear", "Tanh", "Linear", "Linear"]
    assert [n for n, _ in m.named_modules()] == ["", "emb", "blocks.0", "blocks.1.0", "blocks.1.1", "heads.out"]
    assert [n for n, _ in m.named_parameters(prefix="model")][0] == "model.emb.weight"


def test_tied_weights_appear_once_and_accumulate_both_uses():
    m = Tied()
    params = m.parameters()
    assert sum(p is m.emb.weight for p in params) == 1
    assert m.num_parameters() == 15 + 12 + 12 + 2 + 1
    assert list(m.state_dict()) == EXPECTED_NAMES[:5] + ["heads.out.weight", "heads.extra.0", "scale"]
    # the tied table's gradient is the sum of its two uses: lookup table and output layer
    m.double()
    idx = np.array([1, 2, 1])

    def grad_of_table():
        m.zero_grad()
        m(idx).sum().backward()
        return m.emb.weight.grad.data.copy()

    both = grad_of_table()
    m.heads["out"].weight = Parameter(m.emb.weight.data)  # untie: only the lookup use reaches emb.weight
    lookup = grad_of_table()
    output = m.heads["out"].weight.grad.data
    np.testing.assert_allclose(both, lookup + output, rtol=1e-12)
    assert lookup.any() and output.any()


def test_a_shared_submodule_is_one_module():
    shared = nn.Linear(2, 2)

    class TwoPaths(nn.Module):
        def __init__(self):
            self.a = shared
            self.b = [shared]

    m = TwoPaths()
    assert m.parameters() == [shared.weight, shared.bias]
    assert list(m.modules()) == [m, shared]
    assert list(m.state_dict()) == ["a.weight", "a.bias", "b.0.weight", "b.0.bias"]


def test_a_back_reference_to_a_parent_does_not_loop():
    class Child(nn.Module):
        def __init__(self, parent):
            self.parent = parent
            self.w = Parameter(np.zeros(1))

    class Parent(nn.Module):
        def __init__(self):
            self.b = Parameter(np.zeros(2))
            self.child = Child(self)

    m = Parent()
    assert list(m.state_dict()) == ["b", "child.w"]
    assert [n for n, _ in m.named_modules()] == ["", "child"]
    m.eval()
    assert not m.child.training
    assert repr(m) == "Parent(\n  (child): Child(\n    (parent): ...\n  )\n)"


tree = st.recursive(
    st.sampled_from(["linear", "param", "none"]),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from("abc"), kids, max_size=3),
    max_leaves=8,
)


def _build(spec):
    if spec == "linear":
        return nn.Linear(1, 1)
    if spec == "param":
        return Parameter(np.zeros(1))
    if spec == "none":
        return None
    if isinstance(spec, list):
        return [_build(s) for s in spec]
    return {k: _build(s) for k, s in spec.items()}


def _resolve(obj, dotted):
    for part in dotted.split("."):
        if isinstance(obj, nn.Module):
            obj = vars(obj)[part]
        elif isinstance(obj, dict):
            obj = obj[part]
        else:
            obj = obj[int(part)]
    return obj


@settings(max_examples=40, deadline=None)
@given(tree)
def test_every_dotted_name_leads_back_to_its_parameter(spec):
    class Holder(nn.Module):
        def __init__(self):
            self.root = _build(spec)

    m = Holder()
    named = list(m.named_parameters())
    assert all(_resolve(m, n) is p for n, p in named)
    assert len({id(p) for _, p in named}) == len(named)
    assert [p for _, p in named] == m.parameters()
    sd = m.state_dict()
    assert list(sd) == [n for n, _ in named]  # no tying here, so every name once
    fresh = Holder.__new__(Holder)
    fresh.root = _build(spec)
    fresh.load_state_dict(sd)


def test_train_eval_reach_modules_inside_containers():
    m = Tied()
    m.eval()
    assert all(not sub.training for sub in m.modules())
    assert m.train() is m and all(sub.training for sub in m.modules())
    assert not m.blocks[1][0].train(False).training and m.training


def test_zero_grad_call_and_forward():
    m = Tied()
    m.double()
    m(np.array([0])).sum().backward()
    m.zero_grad(set_to_none=False)  # as in PyTorch: existing gradients become zeros, absent ones stay absent
    assert m.emb.weight.grad is not None and m.blocks[1][1].weight.grad is None
    assert all(not p.grad.data.any() for p in m.parameters() if p.grad is not None)
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_requires_grad_and_apply():
    m = Tied()
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    visited = []
    m.apply(lambda sub: visited.append(type(sub).__name__))
    assert visited == ["Embedding", "Linear", "Tanh", "Linear", "Linear", "Tied"]  # children first


def test_to_dtype_keeps_ties():
    m = Tied().float()
    assert all(p.dtype == np.float32 for p in m.parameters())
    m.double()
    assert m.heads["out"].weight is m.emb.weight and m.emb.weight.dtype == np.float64


def test_to_dtype_converts_floating_parameters_only():
    m = nn.Linear(2, 2)
    m.steps = Parameter(np.array([3]), requires_grad=False)
    m.double()
    assert m.weight.dtype == np.float64 and m.steps.dtype == np.int64
    with pytest.raises(TypeError, match="floating dtype, got int32"):
        m.to(np.int32)


# ---------------------------------------------------------------------------------------------
# state dicts

def test_state_dict_round_trip_through_an_npz_file(tmp_path):
    src, dst = Tied(seed=1), Tied(seed=2)
    idx = np.array([[0, 4], [2, 3]])
    assert not np.allclose(src(idx).data, dst(idx).data)
    path = tmp_path / "model.npz"
    np.savez(path, **src.state_dict())
    with np.load(path, allow_pickle=False) as f:
        loaded = {k: f[k] for k in f.files}
    assert dst.load_state_dict(loaded) == ([], [])
    np.testing.assert_array_equal(src(idx).data, dst(idx).data)
    for (n, p), (_, q) in zip(src.named_parameters(), dst.named_parameters()):
        assert p.dtype == q.dtype and np.array_equal(p.data, q.data), n


def test_state_dict_holds_copies_and_load_copies_in():
    m = Tied()
    sd = m.state_dict()
    sd["scale"][0] = 7.0
    assert m.scale.data[0] == 1.0
    sd["scale"] = Tensor(np.array([3.0]), dtype=np.float64)  # tensors are accepted as well as arrays
    m.load_state_dict(sd)
    sd["scale"].data[0] = 5.0
    assert m.scale.data[0] == 3.0


def test_parameters_stay_c_ordered_whatever_they_are_given():
    m = Tied()
    sd = m.state_dict()
    sd["blocks.0.weight"] = np.asfortranarray(sd["blocks.0.weight"] + 1)  # e.g. a transposed torch weight
    m.load_state_dict(sd)
    np.testing.assert_array_equal(m.blocks[0].weight.data, sd["blocks.0.weight"])
    assert all(p.data.flags.c_contiguous for p in m.parameters())
    assert all(p.data.flags.c_contiguous for p in m.float().parameters())
    assert Parameter(np.ones((3, 2)).T).data.flags.c_contiguous


def test_strict_load_lists_every_problem_in_one_error_and_changes_nothing():
    m = Tied()
    before = {k: v.copy() for k, v in m.state_dict().items()}
    sd = m.state_dict()
    del sd["blocks.0.bias"]
    sd["blocks.9.weight"] = np.zeros(3)
    sd["emb.weight"] = np.zeros((5, 4))
    sd["blocks.1.1.weight"] = sd["blocks.1.1.weight"].astype(np.float64)
    sd["scale"] = np.array([2.0])  # valid: must not be applied while other entries are bad
    with pytest.raises(StateDictError) as info:
        m.load_state_dict(sd)
    err = info.value
    msg = str(err)
    for needle in ("missing key 'blocks.0.bias'", "unexpected key 'blocks.9.weight'",
                   "'emb.weight': shape (5, 4) in the state dict, (5, 3) in the model",
                   "'blocks.1.1.weight': dtype float64 in the state dict, float32 in the model", "4 problem"):
        assert needle in msg
    assert len(err.problems) == 4 and err.missing_keys == ["blocks.0.bias"]
    assert err.unexpected_keys == ["blocks.9.weight"]
    assert isinstance(err, ValueError) and not isinstance(err, KeyError)  # a shape mismatch is no missing key
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_non_strict_load_skips_keys_but_not_mismatches():
    m = Tied()
    result = m.load_state_dict({"scale": np.array([4.0]), "nope": np.zeros(1)}, strict=False)
    assert m.scale.data[0] == 4.0
    assert result.unexpected_keys == ["nope"] and "emb.weight" in result.missing_keys
    with pytest.raises(StateDictError, match="shape"):
        m.load_state_dict({"scale": np.zeros(2)}, strict=False)


def test_load_rejects_conflicting_values_for_tied_names_and_non_mappings():
    m = Tied()
    sd = m.state_dict()
    sd["heads.out.weight"] = sd["heads.out.weight"] + 1
    with pytest.raises(StateDictError, match="tied to 'emb.weight'"):
        m.load_state_dict(sd)
    with pytest.raises(TypeError, match="mapping"):
        m.load_state_dict([("scale", np.ones(1))])


def test_repr_shows_the_module_tree():
    class Net(nn.Module):
        def __init__(self):
            self.enc = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
            self.out = nn.Linear(3, 1)

    assert repr(Net()) == (
        "Net(\n"
        "  (enc): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "    (1): ReLU()\n"
        "  )\n"
        "  (out): Linear(in_features=3, out_features=1, bias=True)\n"
        ")")


def test_parameter_basics():
    p = Parameter([1.0, 2.0])
    assert p.requires_grad and p.is_leaf and p.dtype == mg.get_default_dtype()
    assert repr(p).startswith("Parameter(")
    assert not Parameter(np.zeros(2), requires_grad=False).requires_grad
    assert Parameter(2.0).shape == ()


def test_parameters_are_named_as_the_outermost_module_names_them():
    from minigrad.nn import Embedding, Linear, Module, ModuleList, Sequential

    class Inner(Module):
        def __init__(self):
            super().__init__()
            self.proj = Linear(2, 3)

    class Outer(Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()
            self.embed = Embedding(5, 3)
            self.blocks = ModuleList([Linear(3, 3)])
            self.seq = Sequential(Linear(3, 2))
            self.head = Linear(3, 5)
            self.head.weight = self.embed.weight  # tied: keeps its first name
            self.blocks.append(Linear(3, 3))  # appended later: named when Outer is attached below

    class Top(Module):
        def __init__(self):
            super().__init__()
            self.model = Outer()

    top = Top()
    assert {p.name for p in top.parameters()} == {n for n, _ in top.named_parameters()}
    assert top.model.head.weight.name == "model.embed.weight"
    mine = Parameter(np.zeros(2))
    mine.name = "kept"
    top.model.extra = mine
    assert mine.name == "kept"
