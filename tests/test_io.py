"""Checkpoints: exact round trips, npz compatibility, atomic writes (a writer failing or killed
midway), damaged files (hypothesis truncations and byte flips), and bit-for-bit resumed training."""
import functools
import os
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import minigrad as mg
import minigrad.io as mio
from minigrad import nn, optim
from minigrad.io import CheckpointError, load, load_checkpoint, save, save_checkpoint
from minigrad.nn.utils import clip_grad_norm_
from minigrad.optim import lr_scheduler


def assert_same(a, b, where="obj"):
    """Equal values *and* types, floats bit for bit (NaN, -0.0), arrays by dtype, shape and bytes."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.ndarray) or isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f"{where}: values differ"
    elif isinstance(a, float):
        assert repr(a) == repr(b), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


# hypothesis: arbitrary nested objects --------------------------------------------------------------
dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.int8, np.uint8, np.bool_, np.complex128])
ndarrays = dtypes.flatmap(lambda dt: arrays(dt, array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)))
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 130, 2 ** 130), st.floats(allow_nan=True), st.text(max_size=8),
    st.binary(max_size=8), ndarrays, ndarrays.map(lambda a: a[()] if a.ndim == 0 else a),
    arrays(np.dtype("U3"), st.integers(0, 3)),
)
keys = st.one_of(st.text(max_size=6), st.integers(-5, 5))
trees = st.recursive(leaves, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.lists(kids, max_size=3).map(tuple),
    st.dictionaries(keys, kids, max_size=3)), max_leaves=12)


@given(obj=trees)
def test_any_supported_object_round_trips_exactly(obj):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "obj.npz")
        save(obj, path)
        assert_same(obj, load(path))
        assert os.listdir(d) == ["obj.npz"]  # no temporary file left behind


def test_state_dicts_rng_state_and_config_round_trip(tmp_path):
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    model(mg.randn(2, 3)).sum().backward()
    opt.step()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=7)
    obj = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
           "rng": mg.get_rng_state(), "numpy_rng": np.random.default_rng(5).bit_generator.state,
           "config": {"hidden": 64, "lr": 0.1 + 0.2, "layers": [1, 2], "name": "ü", "dropout": None}}
    save(obj, tmp_path / "ckpt.npz")
    back = load(tmp_path / "ckpt.npz")
    assert_same(dict(obj["model"]), back["model"])
    for k in ("optimizer", "scheduler", "rng", "numpy_rng", "config"):
        assert_same(obj[k], back[k], k)


def test_the_file_is_a_plain_npz_with_readable_names_and_deterministic_bytes(tmp_path):
    obj = {"model": {"layers.0.weight": np.eye(2)}, "opt": {"state": {0: {"exp_avg": np.ones(3)}}}}
    save(obj, tmp_path / "a.npz")
    save(obj, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["__minigrad__", "model/layers.0.weight", "opt/state/0/exp_avg"]
        assert np.array_equal(npz["model/layers.0.weight"], np.eye(2))


def test_tensors_are_stored_as_their_arrays(tmp_path):
    save({"w": nn.Parameter(np.arange(3.0))}, tmp_path / "t.npz")
    assert_same(load(tmp_path / "t.npz"), {"w": np.arange(3.0)})


@pytest.mark.parametrize("obj, where", [
    ({"a": [1, {2.5}]}, r"obj\['a'\]\[1\]"),
    ({"a": np.array([object()])}, r"obj\['a'\].*pickling"),
    ({"a": {(1, 2): 3}}, r"obj\['a'\] has key \(1, 2\)"),
    ({True: 1}, "key True"),
    ([lambda: 0], r"obj\[0\]"),
])
def test_unsupported_values_are_named_and_nothing_is_written(obj, where, tmp_path):
    path = tmp_path / "x.npz"
    save({"old": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=where):
        save(obj, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["x.npz"]


# damaged and foreign files -------------------------------------------------------------------------
SAMPLE = {"w": np.arange(6.0).reshape(2, 3), "step": 7, "cfg": {"lr": 0.1, "name": "x"}}


@functools.cache
def _sample_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        save(SAMPLE, Path(d) / "s.npz")
        return (Path(d) / "s.npz").read_bytes()


def _load_must_fail_cleanly_or_be_exact(path):
    """A damaged file either raises CheckpointError naming it, or (damage in metadata nobody reads)
    loads exactly the saved object; either way the file on disk is not modified."""
    before, stat = path.read_bytes(), os.stat(path)
    try:
        got = load(path)
    except CheckpointError as e:
        assert str(path) in str(e)
        failed = True
    else:
        assert_same(SAMPLE, got)
        failed = False
    assert path.read_bytes() == before and os.stat(path).st_mtime_ns == stat.st_mtime_ns
    return failed


@settings(max_examples=50)
@given(cut=st.floats(0, 1, exclude_max=True))
def test_truncated_files_raise_checkpoint_error(cut):
    data = _sample_bytes()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.npz"
        path.write_bytes(data[:int(cut * len(data))])
        assert _load_must_fail_cleanly_or_be_exact(path)


@settings(max_examples=50)
@given(where=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255))
def test_flipped_bytes_raise_checkpoint_error_or_change_nothing(where, mask):
    data = bytearray(_sample_bytes())
    data[int(where * len(data))] ^= mask
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.npz"
        path.write_bytes(bytes(data))
        _load_must_fail_cleanly_or_be_exact(path)


def test_every_single_byte_flip_is_caught_or_harmless(tmp_path):
    good, path, caught = _sample_bytes(), tmp_path / "c.npz", 0
    for i in range(len(good)):
        data = bytearray(good)
        data[i] ^= 0x55
        path.write_bytes(bytes(data))
        caught += _load_must_fail_cleanly_or_be_exact(path)
    # the harmless ones are zip timestamps, versions, attributes and zip64 fields that readers skip
    assert caught > 0.75 * len(good)


@pytest.mark.parametrize("content, message", [
    (b"", "not a zip"),
    (b"hello, world\n" * 20, "not a zip"),
    (b"\x93NUMPY\x01\x00" + b"x" * 100, "not a zip"),
])
def test_foreign_files_raise_checkpoint_error(content, message, tmp_path):
    path = tmp_path / "f.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f"'{path}'.*{message}"):
        load(path)


def test_a_plain_npz_is_refused_with_a_hint(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.ones(3))
    with pytest.raises(CheckpointError, match="without minigrad's manifest.*np.load"):
        load(tmp_path / "plain.npz")


def test_a_manifest_that_lies_about_an_array_is_caught(tmp_path):
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as zf:
        manifest = b'{"format":"minigrad.save","version":1,"root":{"array":"w","dtype":"<f8","shape":[2]}}'
        with zf.open("__minigrad__.npy", "w") as f:
            np.lib.format.write_array(f, np.frombuffer(manifest, np.uint8))
        with zf.open("w.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(10**6))
    with pytest.raises(CheckpointError, match=r"'w' is float64 \(1000000,\) in its header but <f8 \(2,\)"):
        load(path)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.npz")


# atomic writes -------------------------------------------------------------------------------------
def test_a_writer_failing_midway_leaves_the_previous_file_and_no_debris(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    path.write_bytes(_sample_bytes())
    real = mio._write_member
    calls = []

    def failing(zf, name, arr):
        calls.append(name)
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        real(zf, name, arr)

    monkeypatch.setattr(mio, "_write_member", failing)
    with pytest.raises(OSError, match="simulated"):
        save({"w": np.zeros(5), "x": np.ones(5), "y": np.ones(5)}, path)
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert_same(SAMPLE, load(path))


def test_a_process_killed_mid_write_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    path.write_bytes(_sample_bytes())
    child = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        import minigrad.io as mio
        real = mio._write_member
        def stalling(zf, name, arr):
            real(zf, name, arr)
            if name != "__minigrad__":  # one array is on disk, the archive is half written
                print("MID", flush=True)
                time.sleep(60)
        mio._write_member = stalling
        mio.save({{"a": np.zeros(1000), "b": np.ones(1000)}}, {str(path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "MID"
        temps = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
        assert len(temps) == 1 and os.path.getsize(tmp_path / temps[0]) > 0
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert_same(SAMPLE, load(path))


# training checkpoints: bit-for-bit resume ----------------------------------------------------------
class Tiny(nn.Module):
    def __init__(self):
        self.hidden = nn.Linear(4, 8)
        self.drop = nn.Dropout(0.3)  # masks drawn from the global generator
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        return self.out(self.drop(self.hidden(x).tanh()))


def _setup(seed):
    mg.manual_seed(seed)
    model = Tiny()
    opt = optim.AdamW(model.parameters(), lr=0.05, amsgrad=True)
    sched = lr_scheduler.SequentialLR(opt, [lr_scheduler.LinearLR(opt, 0.2, total_iters=3),
                                            lr_scheduler.CosineAnnealingLR(opt, T_max=10)], milestones=[3])
    return model, opt, sched, np.random.default_rng(seed + 1)


def _train(model, opt, sched, data, steps):
    for _ in range(steps):
        x = mg.Tensor(data.standard_normal((5, 4)).astype(np.float32))
        y = mg.Tensor(data.standard_normal((5, 1)).astype(np.float32))
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        sched.step()


def test_resuming_from_a_checkpoint_reproduces_the_uninterrupted_run_bit_for_bit(tmp_path):
    model, opt, sched, data = _setup(0)
    _train(model, opt, sched, data, 12)
    expected = {"model": model.state_dict(), "optimizer": opt.state_dict(), "lr": sched.get_last_lr(),
                "rng": mg.get_rng_state(), "data": data.bit_generator.state}

    model, opt, sched, data = _setup(0)
    _train(model, opt, sched, data, 5)
    save_checkpoint(tmp_path / "run.npz", model=model, optimizer=opt, scheduler=sched, step=5,
                    config={"lr": 0.05, "hidden": 8}, generators={"data": data})
    del model, opt, sched, data

    model, opt, sched, data = _setup(123)  # a fresh process: other weights, other random streams
    ckpt = load_checkpoint(tmp_path / "run.npz", model=model, optimizer=opt, scheduler=sched,
                           generators={"data": data})
    assert ckpt["step"] == 5 and ckpt["config"] == {"lr": 0.05, "hidden": 8}
    _train(model, opt, sched, data, 12 - ckpt["step"])
    got = {"model": model.state_dict(), "optimizer": opt.state_dict(), "lr": sched.get_last_lr(),
           "rng": mg.get_rng_state(), "data": data.bit_generator.state}
    assert_same({k: dict(v) if k == "model" else v for k, v in expected.items()},
                {k: dict(v) if k == "model" else v for k, v in got.items()})


def test_load_checkpoint_is_all_or_nothing(tmp_path):
    model, opt, sched, data = _setup(0)
    _train(model, opt, sched, data, 2)
    save_checkpoint(tmp_path / "run.npz", model=model, optimizer=opt, step=2)
    other, _, _, _ = _setup(7)
    before = dict(other.state_dict())
    wrong_opt = optim.AdamW(other.parameters()[:1])  # one parameter group of the wrong size
    rng_before = mg.get_rng_state()
    with pytest.raises(nn.StateDictError, match="parameter"):
        load_checkpoint(tmp_path / "run.npz", model=other, optimizer=wrong_opt)
    assert_same(before, dict(other.state_dict()))  # the model load was rolled back
    assert mg.get_rng_state() == rng_before
    with pytest.raises(CheckpointError, match="no scheduler state"):
        load_checkpoint(tmp_path / "run.npz", scheduler=sched)
    with pytest.raises(CheckpointError, match="no state for generator 'data'"):
        load_checkpoint(tmp_path / "run.npz", generators={"data": data})


def test_load_checkpoint_refuses_a_plain_save(tmp_path):
    save({"step": 1}, tmp_path / "plain.npz")
    with pytest.raises(CheckpointError, match="not save_checkpoint"):
        load_checkpoint(tmp_path / "plain.npz")


def test_top_level_aliases():
    assert mg.save is save and mg.load is load
