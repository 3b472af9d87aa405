"""Checkpoints: exact round trips, npz compatibility, atomic writes (a writer failing or killed
midway), damaged files (hypothesis truncations and byte flips), hostile files (decompression
bombs, forged sizes), what a save keeps (permissions, symlinks) and cleans (stale temps), and
bit-for-bit resumed training."""
import errno
import functools
import io
import json
import os
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
import zipfile
import zlib
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


# hostile files: nothing costs much more memory or time than the file's own size ------------------------
def _npy(header_shape, dtype="<f8", data=b"") -> bytes:
    """.npy bytes: a header declaring ``header_shape`` and ``dtype``, then ``data`` (however long)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False,
                                               "shape": tuple(header_shape)})
    return buf.getvalue() + data


def _manifest(root) -> bytes:
    text = json.dumps({"format": "minigrad.save", "version": 1, "root": root}).encode()
    return _npy((len(text),), "|u1", text)


def _stored(name, data, claimed=None):
    """A stored zip member; ``claimed`` forges the size the zip directory gives for it."""
    size = len(data) if claimed is None else claimed
    return name, data, zipfile.ZIP_STORED, zlib.crc32(data), size, size


def _local_header(name: bytes, method, crc, csize, usize) -> bytes:
    return struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, csize, usize, len(name), 0) + name


def _directory(entries, start: int) -> bytes:
    """The central directory and its end record, from (name, method, crc, stored size,
    uncompressed size, offset of the local header) and the offset where the directory starts."""
    out = b"".join(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, csize, usize,
                               len(name), 0, 0, 0, 0, 0, offset) + name
                   for name, method, crc, csize, usize, offset in entries)
    return out + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(out), start, 0)


def _zip(path, members) -> None:
    """Write a zip archive by hand from (name, bytes as stored, method, crc, stored size,
    uncompressed size), so a test can forge what zipfile would never write."""
    out, entries = bytearray(), []
    for name, data, method, crc, csize, usize in members:
        entries.append((name.encode(), method, crc, csize, usize, len(out)))
        out += _local_header(name.encode(), method, crc, csize, usize) + data
    path.write_bytes(bytes(out) + _directory(entries, len(out)))


def _nested_zip(path, n: int, payload: bytes) -> None:
    """n honest stored .npy members (uint8 arrays) that overlap: each holds the next one whole,
    local header and all, so a file of about ``len(payload)`` bytes holds n times as many."""
    rest, members = payload, []
    for i in reversed(range(n)):  # from the innermost out
        name, header = f"m{i}.npy".encode(), _npy((len(rest),), "|u1")
        data = header + rest
        local = _local_header(name, zipfile.ZIP_STORED, zlib.crc32(data), len(data), len(data))
        members.insert(0, (name, zlib.crc32(data), len(data), len(local) + len(header), len(rest)))
        rest = local + data
    entries, refs, offset = [], [], 0
    for i, (name, crc, size, skip, held) in enumerate(members):
        entries.append((name, zipfile.ZIP_STORED, crc, size, size, offset))
        refs.append({"array": f"m{i}", "dtype": "|u1", "shape": [held]})
        offset += skip  # the next member's local header follows this one's headers
    manifest = _manifest(refs)
    entries.append((b"__minigrad__.npy", zipfile.ZIP_STORED, zlib.crc32(manifest), len(manifest), len(manifest),
                    len(rest)))
    rest += _local_header(b"__minigrad__.npy", zipfile.ZIP_STORED, zlib.crc32(manifest), len(manifest),
                          len(manifest)) + manifest
    path.write_bytes(rest + _directory(entries, len(rest)))


GIB_OF_FLOAT64 = (2 ** 27,)


@functools.cache
def _deflate_bomb() -> tuple:
    """(member bytes, crc, uncompressed size) of a valid deflated .npy member declaring 1 GiB of
    float64 zeros in about 1 MB: 1,024 copies of one fully flushed 1 MiB deflate block."""
    header = _npy(GIB_OF_FLOAT64)
    zeros = bytes(1 << 20)
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = (first.compress(header) + first.flush(zlib.Z_FULL_FLUSH)
            + (block.compress(zeros) + block.flush(zlib.Z_FULL_FLUSH)) * 1024
            + zlib.compressobj(9, zlib.DEFLATED, -15).flush())  # an empty final block
    crc = zlib.crc32(header)
    for _ in range(1024):
        crc = zlib.crc32(zeros, crc)
    return data, crc, len(header) + (1 << 30)


def _refused_cheaply(path, *needles):
    """Loading ``path`` raises CheckpointError naming the file and ``needles``, in well under a
    second and without allocating more than a few MB (numpy reports its arrays to tracemalloc)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(CheckpointError) as info:
            load(path)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    for needle in (f"'{path}'",) + needles:
        assert needle in str(info.value)
    assert elapsed < 0.25 and peak < 8 * 2 ** 20, (elapsed, peak)


def test_a_deflate_bomb_is_refused_at_once_without_allocating(tmp_path):
    """A 1 MB file with a deflated member declaring 1 GiB (on main: seconds and GBs of RAM)."""
    data, crc, size = _deflate_bomb()
    path = tmp_path / "bomb.npz"
    _zip(path, [_stored("__minigrad__.npy", _manifest({"array": "w", "dtype": "<f8", "shape": list(GIB_OF_FLOAT64)})),
                ("w.npy", data, zipfile.ZIP_DEFLATED, crc, len(data), size)])
    assert path.stat().st_size < 1.1e6
    with zipfile.ZipFile(path) as zf:  # a genuine bomb: zipfile would inflate it
        assert zf.testzip() is None
    _refused_cheaply(path, "member 'w.npy' is compressed (deflated)")


def test_a_zip_directory_claiming_more_than_the_file_holds_is_refused(tmp_path):
    path = tmp_path / "forged.npz"
    header = _npy(GIB_OF_FLOAT64)
    _zip(path, [_stored("__minigrad__.npy", _manifest({"array": "w", "dtype": "<f8", "shape": list(GIB_OF_FLOAT64)})),
                _stored("w.npy", header + bytes(2 ** 20), claimed=len(header) + 2 ** 30)])
    _refused_cheaply(path, "member 'w.npy' claims 1073741952 bytes")


@settings(max_examples=40)
@given(shape=st.lists(st.integers(0, 2 ** 20), max_size=3), dtype=st.sampled_from(["<f8", "<f4", "|u1", "<c16"]),
       held=st.integers(0, 4096))
def test_an_array_header_declaring_other_than_its_bytes_is_refused_before_allocating(shape, dtype, held):
    declared = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    if declared == held:
        held += 1
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "lie.npz"
        _zip(path, [_stored("__minigrad__.npy", _manifest({"array": "w", "dtype": dtype, "shape": shape})),
                    _stored("w.npy", _npy(shape, dtype, bytes(held)))])
        with pytest.raises(CheckpointError, match=rf"'w' declares .* \({declared} bytes\) in its header, "
                                                  rf"but its member holds {held} bytes"):
            load(path)


def test_an_array_referenced_many_times_is_refused(tmp_path):
    """One stored array named a thousand times would rebuild it a thousand times over."""
    path = tmp_path / "many.npz"
    ref = {"array": "w", "dtype": "<f8", "shape": [1000]}
    _zip(path, [_stored("__minigrad__.npy", _manifest([ref] * 1000)),
                _stored("w.npy", _npy((1000,), "<f8", bytes(8000)))])
    _refused_cheaply(path, "names array 'w' more than once")


def test_members_that_overlap_are_refused(tmp_path):
    """Stored members nesting one another: 280 KB of file would give 17 MB of arrays (n^2)."""
    path = tmp_path / "nested.npz"
    _nested_zip(path, 64, bytes(256 * 1024))
    with zipfile.ZipFile(path) as zf:  # genuine: zipfile reads every member
        assert sum(len(zf.read(name)) for name in zf.namelist()) > 60 * path.stat().st_size
    _refused_cheaply(path, "the members claim", "they overlap")


def test_a_negative_dimension_is_refused(tmp_path):
    path = tmp_path / "negative.npz"
    _zip(path, [_stored("__minigrad__.npy", _manifest({"array": "w", "dtype": "<f8", "shape": [-2, -4]})),
                _stored("w.npy", _npy((-2, -4), "<f8", bytes(64)))])  # (-2) * (-4) * 8 = 64 bytes
    with pytest.raises(CheckpointError, match=r"'w' declares float64 \(-2, -4\)"):
        load(path)


# the probe of issue 12: in a fresh process, with no address space left for a 1 GiB array
_PROBE = textwrap.dedent("""
    import json, resource, sys, time
    import minigrad.io as mio
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (mapped + 256 * 2 ** 20, resource.getrlimit(resource.RLIMIT_AS)[1]))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        mio.load(sys.argv[1])
        error = None
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "rss_before_kib": before, "rss_peak_kib": peak, "error": error}))
""")


def _gib_deflated(path):
    data, crc, size = _deflate_bomb()
    _zip(path, [_stored("__minigrad__.npy", _manifest({"array": "w", "dtype": "<f8", "shape": list(GIB_OF_FLOAT64)})),
                ("w.npy", data, zipfile.ZIP_DEFLATED, crc, len(data), size)])
    return "member 'w.npy' is compressed (deflated)"


def _gib_declared_in_a_stored_mb(path):
    _zip(path, [_stored("__minigrad__.npy", _manifest({"array": "w", "dtype": "<f8", "shape": list(GIB_OF_FLOAT64)})),
                _stored("w.npy", _npy(GIB_OF_FLOAT64, "<f8", bytes(2 ** 20)))])
    return "(1073741824 bytes) in its header, but its member holds 1048576 bytes"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and RLIMIT_AS")
@pytest.mark.parametrize("forge", [_gib_deflated, _gib_declared_in_a_stored_mb], ids=["deflated", "stored"])
def test_a_1_mb_file_declaring_1_gib_is_refused_in_milliseconds_without_memory(forge, tmp_path):
    path = tmp_path / "bomb.npz"
    needle = forge(path)
    assert 2 ** 20 < path.stat().st_size < 1.1 * 2 ** 20
    run = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    probe = json.loads(run.stdout)
    assert probe["error"].startswith(f"CheckpointError: cannot load '{path}'") and needle in probe["error"]
    assert probe["seconds"] < 0.25, probe
    assert probe["rss_peak_kib"] - probe["rss_before_kib"] < 16 * 1024, probe  # KiB on Linux


def test_a_compressed_npz_says_it_is_not_a_minigrad_file(tmp_path):
    np.savez_compressed(tmp_path / "plain.npz", x=np.ones(3))
    with pytest.raises(CheckpointError, match="without minigrad's manifest.*np.load"):
        load(tmp_path / "plain.npz")


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


def test_a_killed_save_leaves_the_previous_checkpoint_and_the_next_save_removes_its_temp(tmp_path):
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
        assert temps[0].startswith(f".ckpt.npz.{proc.pid}.")
        save({"other": 1}, tmp_path / "other.npz")  # a save beside a live writer keeps its temp
        assert temps[0] in os.listdir(tmp_path)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert_same(SAMPLE, load(path))
    assert temps[0] in os.listdir(tmp_path)  # the killed writer's temp is left behind...
    save({"step": 2}, path)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz", "other.npz"]  # ...until the next save
    assert_same({"step": 2}, load(path))


# what a save keeps (permissions, links), what it cleans (stale temps), what its errors name -------------
@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o660, 0o604], ids=oct)
def test_re_saving_keeps_the_files_permission_bits_and_the_temp_never_has_more(mode, tmp_path, umask_022,
                                                                                monkeypatch):
    path = tmp_path / "ckpt.npz"
    save(SAMPLE, path)
    assert _mode(path) == 0o644  # a new file: 0o666 less the umask, as open() makes it
    os.chmod(path, mode)
    seen = []
    real = mio._write_member

    def spying(zf, name, arr):  # the temp's bits while the data is written
        seen.extend(_mode(tmp_path / f) for f in os.listdir(tmp_path) if f.endswith(".tmp"))
        real(zf, name, arr)

    monkeypatch.setattr(mio, "_write_member", spying)
    save({"step": 2}, path)
    assert _mode(path) == mode  # group write (0o660) survives the umask too
    assert seen and all(m & ~mode == 0 for m in seen)
    assert_same({"step": 2}, load(path))


def test_saving_through_a_symlink_rewrites_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "ckpt.npz"
    save(SAMPLE, target)
    os.chmod(target, 0o600)
    link = tmp_path / "latest.npz"
    link.symlink_to(os.path.join("runs", "ckpt.npz"))  # relative, to another folder
    save({"step": 2}, link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("runs", "ckpt.npz")
    assert_same({"step": 2}, load(target))
    assert _mode(target) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["latest.npz", "runs"] and os.listdir(tmp_path / "runs") == ["ckpt.npz"]
    dangling = tmp_path / "next.npz"
    dangling.symlink_to(os.path.join("runs", "new.npz"))
    save({"step": 3}, dangling)  # a link to a file not yet there: the save creates it
    assert dangling.is_symlink() and sorted(os.listdir(tmp_path / "runs")) == ["ckpt.npz", "new.npz"]
    assert_same({"step": 3}, load(tmp_path / "runs" / "new.npz"))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    try:
        os.kill(proc.pid, 0)
    except ProcessLookupError:
        return proc.pid
    pytest.skip("the pid of a finished process was reused at once")  # vanishingly rare


@pytest.mark.skipif(os.name == "nt", reason="stale temps are told apart by flock, which Windows lacks")
def test_the_next_save_removes_stale_temps_of_our_pattern_and_nothing_else(tmp_path):
    dead = _dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    locked = tmp_path / f".ckpt.npz.{dead}.0000cafe.tmp"
    locker = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, sys
        fd = os.open({str(locked)!r}, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("LOCKED", flush=True)
        sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "LOCKED"
        stale = [f".ckpt.npz.{dead}.deadbeef.tmp", f".other.npz.{dead}.0123abcd.tmp",  # any file's, in this folder
                 f".{'ü' * 60}.npz.{dead}.00000001.tmp"]
        kept = [locked.name,  # its writer's pid means nothing here (another container), but it holds the lock
                f".ckpt.npz.{sleeper.pid}.00c0ffee.tmp",  # a live process's, even while it holds no lock
                f".ckpt.npz.{os.getpid()}.00000000.tmp",  # our own (another thread's save)
                "ckpt.npz.tmp", f"ckpt.npz.{dead}.deadbeef.tmp", f".ckpt.npz.{dead}.DEADBEEF.tmp",
                f".ckpt.npz.{dead}.deadbee.tmp", f".ckpt.npz.{dead}.deadbeef.tmp~", f".ckpt.npz.x{dead}.deadbeef.tmp",
                "notes.txt"]
        for name in stale + kept[1:]:
            (tmp_path / name).write_bytes(b"PK\x03\x04 half a checkpoint")
        (tmp_path / f".dir.{dead}.aaaaaaaa.tmp").mkdir()
        (tmp_path / f".link.{dead}.bbbbbbbb.tmp").symlink_to("notes.txt")
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / f".ckpt.npz.{dead}.cccccccc.tmp").write_bytes(b"")  # another folder
        before = set(os.listdir(tmp_path))
        save(SAMPLE, tmp_path / "ckpt.npz")
        assert set(os.listdir(tmp_path)) == before - set(stale) | {"ckpt.npz"}
        assert os.listdir(tmp_path / "sub") == [f".ckpt.npz.{dead}.cccccccc.tmp"]
    finally:
        for proc in (sleeper, locker):
            proc.kill()
            proc.wait()
        locker.stdout.close()
    save(SAMPLE, tmp_path / "ckpt.npz")  # the lock went with its holder: now it is stale
    assert locked.name not in os.listdir(tmp_path)


def test_errors_name_the_path_given_not_the_temporary_file(tmp_path, monkeypatch):
    missing = tmp_path / "no" / "such" / "ckpt.npz"
    with pytest.raises(FileNotFoundError) as info:
        save(SAMPLE, missing)
    assert info.value.filename == str(missing) and ".tmp" not in str(info.value)
    link = tmp_path / "latest.npz"
    link.symlink_to(os.path.join("gone", "ckpt.npz"))
    with pytest.raises(FileNotFoundError) as info:
        save(SAMPLE, link)
    assert info.value.filename == str(link)  # the name the caller used, not the link's target
    path = tmp_path / "ckpt.npz"
    path.write_bytes(_sample_bytes())
    for name, error in (("fsync", OSError(errno.EIO, "Input/output error")),
                        ("replace", OSError(errno.EXDEV, "Invalid cross-device link", "/a/.tmp", "/b"))):
        def failing(*args, error=error):
            raise error
        with monkeypatch.context() as m:
            m.setattr(mio.os, name, failing)
            with pytest.raises(OSError) as info:
                save({"w": np.zeros(3)}, path)
        assert info.value.errno == error.errno and info.value.filename == str(path), name
        assert info.value.filename2 is None and ".tmp" not in str(info.value), name
        assert sorted(os.listdir(tmp_path)) == ["ckpt.npz", "latest.npz"], name  # no debris
        assert_same(SAMPLE, load(path))


def test_an_empty_path_or_a_folder_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for empty in ("", b""):
        with pytest.raises(ValueError, match="the path is empty"):
            save(SAMPLE, empty)
    for folder in (tmp_path, str(tmp_path) + os.sep, Path(""), str(tmp_path / "not-yet") + os.sep):
        with pytest.raises(IsADirectoryError, match="names a folder") as info:
            save(SAMPLE, folder)
        assert info.value.filename == os.fspath(folder)
    with pytest.raises(ValueError, match="the path is empty"):
        save_checkpoint("", step=1)
    assert os.listdir(tmp_path) == []


def test_a_state_dict_error_names_the_checkpoint_and_is_not_a_key_error(tmp_path):
    model, opt, _, _ = _setup(0)
    path = tmp_path / "run.npz"
    save_checkpoint(path, model=model, optimizer=opt, step=1)
    other = Tiny()
    other.out = nn.Linear(8, 2)
    with pytest.raises(nn.StateDictError) as info:
        load_checkpoint(path, model=other)
    err = info.value
    assert isinstance(err, ValueError) and not isinstance(err, KeyError)
    assert err.file == str(path) and str(err).startswith(f"cannot load checkpoint '{path}': ")
    assert err.problems == ["'out.weight': shape (1, 8) in the state dict, (2, 8) in the model",
                            "'out.bias': shape (1,) in the state dict, (2,) in the model"]
    with pytest.raises(nn.StateDictError) as info:  # the optimizer's, too
        load_checkpoint(path, model=Tiny(), optimizer=optim.AdamW(Tiny().parameters()[:1]))
    assert info.value.file == str(path) and f"'{path}'" in str(info.value)
    bare = nn.StateDictError("load_state_dict into Tiny: 1 problem(s)", ["x"])
    assert bare.file is None and str(bare) == "load_state_dict into Tiny: 1 problem(s)"  # not quoted


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
