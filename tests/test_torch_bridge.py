"""zoo.to_torch: each covered module becomes the torch.nn module with the same outputs and the same
gradients (float64 round-off), and what torch lacks is named in the error."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
import zoo
from minigrad import nn
from zoo.models import CharLM, CharLMConfig, Seq2Seq, Seq2SeqConfig, SequenceClassifier, ClassifierConfig

torch = pytest.importorskip("torch")


def _pair(ours, inputs, *, ints=()):
    """Run both modules on the same inputs, backpropagate sum(w * out) for fixed random w through
    each output, and compare every output and every parameter's and input's gradient."""
    theirs = zoo.to_torch(ours)
    assert theirs.training == ours.training
    mine = [mg.Tensor(x, requires_grad=i not in ints) for i, x in enumerate(inputs)]
    their = [torch.tensor(x, requires_grad=i not in ints) for i, x in enumerate(inputs)]
    outs_m, outs_t = _flat(ours(*mine)), _flat(theirs(*their))
    assert len(outs_m) == len(outs_t)
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(o.shape) for o in outs_m]
    sum((o * w).sum() for o, w in zip(outs_m, weights)).backward()
    sum((o * torch.from_numpy(w)).sum() for o, w in zip(outs_t, weights)).backward()
    for a, b in zip(outs_m, outs_t):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    params_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, params_t[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    for i, (a, b) in enumerate(zip(mine, their)):
        if i not in ints:
            np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-12)
    return theirs


def _flat(out) -> list:
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [] if out is None else [out]


RECURRENT = [
    ("rnn", lambda: zoo.RNN(3, 4, num_layers=2, dtype=np.float64)),
    ("rnn relu bidirectional", lambda: zoo.RNN(3, 4, nonlinearity="relu", bidirectional=True, dtype=np.float64)),
    ("lstm", lambda: zoo.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True, dtype=np.float64,
                              forget_bias=1.0, recurrent_init="orthogonal")),
    ("gru no bias", lambda: zoo.GRU(3, 4, bias=False, batch_first=True, dtype=np.float64)),
]


@pytest.mark.parametrize("name, make", RECURRENT, ids=[r[0] for r in RECURRENT])
def test_recurrent_layers(name, make):
    ours = make()
    theirs = _pair(ours, [np.random.default_rng(1).standard_normal((5, 2, 3))])
    assert type(theirs).__name__ == type(ours).__name__ and theirs.weight_ih_l0.dtype == torch.float64


@pytest.mark.parametrize("cls", [zoo.RNNCell, zoo.LSTMCell, zoo.GRUCell])
def test_cells(cls):
    _pair(cls(3, 4, dtype=np.float64), [np.random.default_rng(2).standard_normal((2, 3))])


def test_layers_and_containers():
    mg.manual_seed(0)
    seq = nn.Sequential(nn.Linear(3, 5, dtype=np.float64), nn.Tanh(), nn.LayerNorm(5, dtype=np.float64),
                        nn.ReLU(), nn.Linear(5, 2, bias=False, dtype=np.float64), nn.Sigmoid(), nn.Dropout(0.5))
    seq.eval()  # dropout is the identity in both
    theirs = _pair(seq, [np.random.default_rng(3).standard_normal((4, 3))])
    assert not theirs.training and isinstance(theirs[6], torch.nn.Dropout) and theirs[6].p == 0.5
    emb = nn.Embedding(6, 3, padding_idx=2, dtype=np.float64)
    t_emb = _pair(emb, [np.array([[0, 2, 5], [1, 1, 2]])], ints=(0,))
    assert t_emb.padding_idx == 2
    lst = zoo.to_torch(nn.ModuleList([nn.Linear(2, 2), nn.ReLU()]))
    dct = zoo.to_torch(nn.ModuleDict({"a": nn.Linear(2, 3)}))
    assert isinstance(lst, torch.nn.ModuleList) and isinstance(dct["a"], torch.nn.Linear)
    assert lst[0].weight.dtype == torch.float32  # the parameters' dtype


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_charlm_logits_loss_and_every_gradient(cell):
    mg.manual_seed(4)
    ours = CharLM(CharLMConfig(7, cell=cell, embed=4, hidden=5, layers=2, dropout=0.0)).double()
    x = np.random.default_rng(5).integers(0, 7, (3, 6))
    y = np.random.default_rng(6).integers(0, 7, (3, 6))
    theirs = _pair(ours, [x, y], ints=(0, 1))
    assert type(theirs).__name__ == "TorchCharLM"
    logits, state = theirs.run(torch.tensor(x))
    assert logits.shape == (3, 6, 7)


def test_what_torch_lacks_is_named():
    class Doubler(nn.Module):
        def forward(self, x):
            return x * 2

    with pytest.raises(TypeError, match=r"part '1' \(Doubler\) has no torch.nn equivalent"):
        zoo.to_torch(nn.Sequential(nn.Linear(2, 2), Doubler()))
    with pytest.raises(TypeError, match=r"Seq2Seq has a part torch.nn lacks: 'attention' \(AdditiveAttention\)"):
        zoo.to_torch(Seq2Seq(Seq2SeqConfig(5, 6, hidden_size=4, embed_size=3)))
    with pytest.raises(TypeError, match="SequenceClassifier has no torch.nn equivalent"):
        zoo.to_torch(SequenceClassifier(ClassifierConfig(5, 2, hidden_size=4)))


def test_without_torch_importing_zoo_works_and_to_torch_says_what_to_install():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import zoo\n"
            "try:\n    zoo.to_torch(zoo.RNN(2, 3))\n"
            "except ImportError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "zoo.to_torch needs PyTorch (pip install torch)"
