"""minigrad.weights: state dicts as .safetensors files that PyTorch loads with no glue, and back."""
import numpy as np
import pytest

import minigrad as mg
import zoo
from minigrad import io, nn
from minigrad.nn import StateDictError

pytest.importorskip("safetensors")
from minigrad import weights  # noqa: E402


def test_round_trip_into_a_fresh_module(tmp_path):
    mg.manual_seed(0)
    lstm = zoo.LSTM(3, 4, num_layers=2, bidirectional=True)
    path = tmp_path / "lstm.safetensors"
    weights.save_safetensors(lstm, path)
    other = zoo.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert weights.load_safetensors_into(other, path) == ([], [])
    for (name, a), (_, b) in zip(lstm.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    loaded = weights.load_safetensors(path)
    assert sorted(loaded) == sorted(lstm.state_dict()) and all(v.flags.writeable for v in loaded.values())
    assert weights.safetensors_metadata(path) == {"format": "pt"}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_pytorch_loads_the_file_with_no_glue(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    ours = zoo.GRU(3, 5, num_layers=2, batch_first=True, dtype=np.float64)
    path = tmp_path / "gru.safetensors"
    weights.save_safetensors(ours, path)
    theirs = torch.nn.GRU(3, 5, num_layers=2, batch_first=True, dtype=torch.float64)
    theirs.load_state_dict(load_file(path))  # strict
    x = np.random.default_rng(0).standard_normal((2, 4, 3))
    out, _ = ours(mg.Tensor(x))
    np.testing.assert_allclose(out.data, theirs(torch.tensor(x))[0].detach().numpy(), rtol=1e-12, atol=1e-14)
    # and a torch-written file comes back
    from safetensors.torch import save_file
    save_file(theirs.state_dict(), tmp_path / "back.safetensors")
    again = zoo.GRU(3, 5, num_layers=2, batch_first=True, dtype=np.float64)
    weights.load_safetensors_into(again, tmp_path / "back.safetensors")
    np.testing.assert_array_equal(again.weight_hh_l1.data, theirs.weight_hh_l1.detach().numpy())


def test_strided_arrays_tensors_and_metadata(tmp_path):
    a = np.arange(12.0).reshape(3, 4)
    path = tmp_path / "w.safetensors"
    weights.save_safetensors({"t": a.T, "m": mg.Tensor(a), "i": np.arange(3)}, path, metadata={"note": "hi"})
    back = weights.load_safetensors(path)
    np.testing.assert_array_equal(back["t"], a.T)  # the view's values, not its memory order
    np.testing.assert_array_equal(back["m"], a)
    assert back["i"].dtype == np.int64
    assert weights.safetensors_metadata(path) == {"format": "pt", "note": "hi"}
    with pytest.raises(TypeError, match="str to str"):
        weights.save_safetensors({"t": a}, path, metadata={"n": 1})
    with pytest.raises(TypeError, match="'x' is a str"):
        weights.save_safetensors({"x": "text"}, path)


def test_strict_loading_names_the_file_and_every_key(tmp_path):
    path = tmp_path / "lin.safetensors"
    weights.save_safetensors({"weight": np.zeros((2, 3), np.float32), "extra": np.zeros(1, np.float32)}, path)
    with pytest.raises(StateDictError) as err:
        weights.load_safetensors_into(nn.Linear(3, 4), path)
    msg = str(err.value)
    assert "lin.safetensors" in msg and "missing key 'bias'" in msg and "unexpected key 'extra'" in msg
    assert "'weight': shape (2, 3)" in msg
    assert err.value.missing_keys == ["bias"] and err.value.unexpected_keys == ["extra"]
    lin = nn.Linear(3, 2, bias=False)
    assert weights.load_safetensors_into(lin, path, strict=False) == ([], ["extra"])


def test_damaged_and_foreign_files_raise_naming_the_file(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file at all")
    with pytest.raises(weights.WeightsFileError, match="bad.safetensors"):
        weights.load_safetensors(bad)
    with pytest.raises(FileNotFoundError):
        weights.load_safetensors(tmp_path / "missing.safetensors")
    good = tmp_path / "good.safetensors"
    weights.save_safetensors({"a": np.ones(4)}, good)
    data = good.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-8])
    with pytest.raises(weights.WeightsFileError, match="cut.safetensors"):
        weights.load_safetensors(tmp_path / "cut.safetensors")


def test_a_bfloat16_file_is_refused_clearly(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, tmp_path / "bf16.safetensors")
    with pytest.raises(weights.WeightsFileError, match="bf16.safetensors.*bfloat16"):
        weights.load_safetensors(tmp_path / "bf16.safetensors")


def test_a_checkpoint_becomes_a_weights_file(tmp_path):
    mg.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    ckpt = tmp_path / "checkpoint.npz"
    io.save_checkpoint(ckpt, model=model, step=7, config={"kind": "demo", "sizes": [2, 3, 1]})
    out = tmp_path / "model.safetensors"
    names = weights.checkpoint_to_safetensors(ckpt, out)
    assert names == list(model.state_dict())
    meta = weights.safetensors_metadata(out)
    assert meta["minigrad.step"] == "7" and meta["minigrad.config"] == '{"kind": "demo", "sizes": [2, 3, 1]}'
    fresh = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    weights.load_safetensors_into(fresh, out)
    np.testing.assert_array_equal(fresh[2].weight.data, model[2].weight.data)
    # a state dict saved with minigrad.save exports too
    mg.save(model.state_dict(), tmp_path / "state.npz")
    assert weights.checkpoint_to_safetensors(tmp_path / "state.npz", tmp_path / "s.safetensors") == names


def test_a_checkpoint_without_weights_is_refused(tmp_path):
    io.save_checkpoint(tmp_path / "c.npz", step=1)
    with pytest.raises(weights.WeightsFileError, match="holds no model state"):
        weights.checkpoint_to_safetensors(tmp_path / "c.npz", tmp_path / "o.safetensors")
    mg.save({"lr": 0.1}, tmp_path / "other.npz")
    with pytest.raises(weights.WeightsFileError, match="neither a training checkpoint nor a state dict"):
        weights.checkpoint_to_safetensors(tmp_path / "other.npz", tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()
