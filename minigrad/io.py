"""Saving state dicts and training checkpoints as ``.npz`` files that loading never executes.

``save(obj, path)`` accepts nested dicts (str or int keys), lists and tuples whose leaves are
numpy arrays (or tensors, stored as their arrays), numpy scalars, bytes, and JSON values (None,
bool, int of any size, float including NaN/inf, str). The file is an ordinary ``.npz`` archive:
one ``.npy`` member per array, named after its path in the object (``np.load`` can inspect it),
plus ``__minigrad__.npy``, a uint8 array holding a JSON manifest of the structure with every
array replaced by a reference ``{"array": name, "dtype": ..., "shape": ...}``. ``load`` rebuilds
the object from the manifest with ``allow_pickle`` off, so a file can describe data but never run
code.

Writes are atomic: a temporary file in the same folder is written, flushed and fsynced, then
renamed over the target (``os.replace``) and the folder fsynced, so an interrupted save leaves
the previous file intact. Re-saving keeps the file's permission bits; saving through a symlink
writes its target and keeps the link. A killed process leaves its hidden
``.<name>.<pid>.<hex>.tmp`` file beside the target; the next save into that folder removes it
(see ``_remove_stale_temps`` for how a live writer's file is told apart). Errors name the path
the caller gave, never the temporary file.

Reads check the zip CRCs and the manifest against every array header; a truncated, corrupted or
foreign file raises ``CheckpointError`` naming the file and the problem, and the file is opened
read-only. A file cannot make ``load`` use much more memory or time than its own size: every
member must be stored uncompressed (as ``save`` writes them; a deflated member can expand a
thousandfold), fit in the file without overlapping another, hold exactly the bytes its ``.npy``
header declares, and be referenced once; each member is checked before its array is allocated.

``save_checkpoint`` / ``load_checkpoint`` bundle model, optimizer and scheduler state, the step
counter, RNG states and a config, so that a resumed run repeats an uninterrupted one bit for bit.
"""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import secrets
import stat
import zipfile

try:  # POSIX: writers lock their temp file, so a stale one can be told from a live one
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

import numpy as np

from . import random as _random
from .nn.module import StateDictError
from .tensors import Tensor

__all__ = ["save", "load", "save_checkpoint", "load_checkpoint", "atomic_write", "CheckpointError"]

_MANIFEST = "__minigrad__"
_FORMAT = "minigrad.save"
_VERSION = 1
_CHECKPOINT = "minigrad.checkpoint"
# dtype kinds that .npy stores without pickling: bool, ints, floats, complex, bytes, str, datetimes
_PLAIN_KINDS = set("biufcSUmM")
# the temporary file of a save in progress: .<target name>.<pid>.<8 hex digits>.tmp
_TEMP = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]+)\.[0-9a-f]{8}\.tmp")


class CheckpointError(ValueError):
    """A file could not be read as a minigrad save or checkpoint; the message names the file and why."""


class _Bad(Exception):
    """A problem found while reading; ``load`` turns it into a CheckpointError naming the file."""


# encoding ---------------------------------------------------------------------------------------
def _show(path: tuple) -> str:
    return "obj" + "".join(f"[{k!r}]" for k in path)


class _Encoder:
    """Turns an object into (manifest node, {member name: array}), naming arrays after their paths."""

    def __init__(self):
        self.arrays: dict = {}

    def node(self, obj, path: tuple):
        if isinstance(obj, Tensor):
            obj = obj.data
        if isinstance(obj, np.ndarray):
            return self._array("array", obj, path)
        if isinstance(obj, np.generic):  # before float/int: np.float64 is a float subclass
            return self._array("scalar", np.asarray(obj), path)
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, bytes):
            return self._array("bytes", np.frombuffer(obj, np.uint8), path)
        if isinstance(obj, list):
            return [self.node(v, path + (i,)) for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"tuple": [self.node(v, path + (i,)) for i, v in enumerate(obj)]}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if isinstance(k, bool) or not isinstance(k, (str, int)):
                    raise TypeError(f"save: dict keys must be str or int, {_show(path)} has key {k!r} "
                                    f"of type {type(k).__name__}")
                items.append([k, self.node(v, path + (k,))])
            return {"dict": items}
        raise TypeError(f"save: cannot store {type(obj).__name__} at {_show(path)}; use arrays, numbers, "
                        "str, bytes, None, and lists, tuples or dicts of them (call .state_dict() on "
                        "modules, optimizers and schedulers)")

    def _array(self, tag: str, arr: np.ndarray, path: tuple) -> dict:
        if arr.dtype.kind not in _PLAIN_KINDS:
            raise TypeError(f"save: the array at {_show(path)} has dtype {arr.dtype}, which .npy can only "
                            "store by pickling; convert it to a numeric or string dtype")
        name = self._name(path)
        self.arrays[name] = arr
        return {tag: name, "dtype": arr.dtype.str, "shape": list(arr.shape)}

    def _name(self, path: tuple) -> str:
        base = "/".join(re.sub(r"[^A-Za-z0-9._-]", "_", str(k)) for k in path)[:120] or "_"
        name, n = base, 1
        while name in self.arrays or name == _MANIFEST:
            n += 1
            name = f"{base}~{n}"
        return name


def _write_member(zf: zipfile.ZipFile, name: str, arr: np.ndarray) -> None:
    # a fixed timestamp makes the same object always give the same bytes
    info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
    with zf.open(info, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, arr, allow_pickle=False)


def _fsync_dir(directory: str) -> None:
    """Make a rename durable; some systems (Windows) cannot open folders, and then it is skipped."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process on this machine (signal 0 checks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OverflowError, ValueError):  # no process has such a number
        return False
    return True


def _remove_stale_temps(directory: str) -> None:
    """Delete the temp files that killed saves left in ``directory``; never a live writer's.

    A file is removed only if all of these hold: its name has our pattern
    (``.<name>.<pid>.<8 hex>.tmp``); it is a regular file (not a link) owned by us; the pid in its
    name is not ours and no live process here has it; and we can take its lock. Every writer holds
    an exclusive ``flock`` on its temp file from just after creating it until it is closed, and
    the kernel drops a dead process's locks, so a live writer's file is locked even where its pid
    means nothing (another container sharing the folder). For writers on this machine the pid
    guard also covers the microseconds between creating the file and locking it, and between
    closing and renaming it; pid reuse only makes it keep a stale file longer. Without ``fcntl``
    (Windows) nothing is removed. Best effort: a file that vanishes or cannot be opened is
    skipped, and the save goes on.
    """
    if fcntl is None:
        return
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    me, uid = os.getpid(), os.getuid()
    for entry in entries:
        match = _TEMP.fullmatch(entry.name)
        if match is None or int(match["pid"]) == me or _alive(int(match["pid"])):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != uid:
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError while a writer holds it
            if os.path.samestat(os.fstat(fd), st):
                os.unlink(entry.path)
        except OSError:
            pass
        finally:
            os.close(fd)


def _about(e: OSError, path: str) -> OSError:
    """The same error (same type and errno) about the path the caller gave, not our temp file."""
    if e.errno is None:
        return type(e)(f"{e}: '{path}'")
    return type(e)(e.errno, e.strerror, path)


def save(obj, path) -> None:
    """Write ``obj`` (nested dicts/lists/tuples of arrays and plain values) to ``path`` atomically.

    The file is written exactly at ``path`` (no suffix is added); an existing file keeps its
    permission bits, and a symlink keeps pointing at the file it names, which is rewritten.
    Unsupported values raise ``TypeError`` naming their place in ``obj`` before anything is
    written; ``OSError`` and its subclasses name ``path``.
    """
    enc = _Encoder()
    root = enc.node(obj, ())
    manifest = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root}, separators=(",", ":"))

    def write(f) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            _write_member(zf, _MANIFEST, np.frombuffer(manifest.encode("utf-8"), np.uint8))
            for member, arr in enc.arrays.items():
                _write_member(zf, member, arr)
    atomic_write(path, write)


def atomic_write(path, write) -> None:
    """Write the file at ``path`` all at once or not at all: ``write(f)`` fills an open binary file.

    The bytes go to a hidden temp file beside the target (flushed and fsynced), which then replaces
    it, so a reader sees the old file or the new one, never a part. An existing file keeps its
    permission bits, and a symlink keeps pointing at the file it names, which is rewritten. Temp
    files of earlier, killed writes are removed (see ``_remove_stale_temps``). ``OSError`` and its
    subclasses name ``path``; an empty path or a folder is refused.
    """
    path = os.fspath(path)
    if not path:
        raise ValueError("the path is empty; give the file to write, e.g. 'checkpoint.npz'")
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "the path names a folder; give the file to write "
                                "in it, e.g. 'checkpoint.npz'", path)
    target = os.path.realpath(path)  # through symlinks: the link stays, its target is replaced
    directory, name = os.path.split(target)
    try:
        _remove_stale_temps(directory)
        _write_atomically(target, directory, name, write)
    except OSError as e:
        raise _about(e, path) from None
    _fsync_dir(directory)


def _write_atomically(target: str, directory: str, name: str, write) -> None:
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: the usual 0o666 less the umask
    # NOTE: the name is cut to 200 bytes so that the temp's name stays within the usual 255-byte
    # limit (surrogateescape gives a cut character back as the same bytes)
    stem = os.fsdecode(os.fsencode(name)[:200])
    tmp = os.path.join(directory, f".{stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # created with no more permission than the file will have, so its data is never more exposed
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o666 if mode is None else mode & 0o777)
    try:
        with os.fdopen(fd, "wb") as f:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # held until closed: see _remove_stale_temps
            if mode is not None:  # the umask may have removed bits the old file had
                if hasattr(os, "fchmod"):
                    os.fchmod(f.fileno(), mode)
                else:  # pragma: no cover - Windows before Python 3.13
                    os.chmod(tmp, mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# decoding ---------------------------------------------------------------------------------------
_METHODS = {zipfile.ZIP_DEFLATED: "deflated", zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}


def _check_members(zf: zipfile.ZipFile, size: int) -> None:
    """Refuse, from the zip directory alone, any member that could cost more than its bytes:
    compressed or encrypted members, members claiming more bytes than the file has, and members
    that overlap (a member nesting all later ones would make a file of n bytes yield n^2)."""
    total = 0
    for info in zf.infolist():
        if info.compress_type != zipfile.ZIP_STORED:
            method = _METHODS.get(info.compress_type, f"method {info.compress_type}")
            raise _Bad(f"member '{info.filename}' is compressed ({method}); minigrad.save writes only "
                       "stored members, and a compressed one can expand to far more than the file")
        if info.flag_bits & 0x1:
            raise _Bad(f"member '{info.filename}' is encrypted; minigrad.save never encrypts")
        if info.file_size != info.compress_size:
            raise _Bad(f"member '{info.filename}' is stored, yet the zip directory gives it {info.compress_size} "
                       f"bytes stored and {info.file_size} bytes of content: forged")
        if info.header_offset + info.compress_size > size:
            raise _Bad(f"member '{info.filename}' claims {info.file_size} bytes, but the file has only "
                       f"{size}: truncated or forged")
        total += info.compress_size
    if total > size:
        raise _Bad(f"the members claim {total} bytes in all, but the file has only {size}: they overlap, "
                   "which minigrad.save never writes")


class _Reader:
    """Reads the arrays the manifest names, each member at most once (so a small file cannot
    rebuild one big array many times)."""

    def __init__(self, zf: zipfile.ZipFile):
        self.zf, self.read = zf, set()

    def member(self, name: str, dtype: str, shape: list | None) -> np.ndarray:
        """Read one .npy member, checking its header against the member's size and the manifest
        before allocating (``shape=None``: any 1-d length)."""
        if name in self.read:
            raise _Bad(f"the manifest names array '{name}' more than once; minigrad.save stores each once")
        self.read.add(name)
        try:
            info = self.zf.getinfo(name + ".npy")
        except KeyError:
            raise _Bad(f"array '{name}' named in the manifest is missing from the archive") from None
        with self.zf.open(info) as m:
            version = np.lib.format.read_magic(m)
            if version == (1, 0):
                h_shape, fortran, h_dtype = np.lib.format.read_array_header_1_0(m)
            elif version == (2, 0):
                h_shape, fortran, h_dtype = np.lib.format.read_array_header_2_0(m)
            else:
                raise _Bad(f"array '{name}' has an unsupported .npy version {version}")
            # Python ints: a forged shape cannot overflow the product
            declared = math.prod(h_shape) * h_dtype.itemsize
            if min(h_shape, default=0) < 0 or declared != info.file_size - m.tell():
                raise _Bad(f"array '{name}' declares {h_dtype} {tuple(h_shape)} ({declared} bytes) in its "
                           f"header, but its member holds {info.file_size - m.tell()} bytes of data")
            expected = [h_shape[0]] if shape is None and len(h_shape) == 1 else shape
            if h_dtype.str != dtype or list(h_shape) != expected or h_dtype.kind not in _PLAIN_KINDS:
                raise _Bad(f"array '{name}' is {h_dtype} {tuple(h_shape)} in its header but {dtype} "
                           f"{'1-d' if shape is None else tuple(shape)} in the manifest")
            arr = np.empty(h_shape[::-1] if fortran else h_shape, h_dtype)
            raw = arr.reshape(-1).view(np.uint8)
            if m.readinto(raw) != raw.size or m.read(1):  # reading to the end also checks the CRC
                raise _Bad(f"array '{name}' does not hold {raw.size} bytes of data")
        return arr.T if fortran else arr

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if isinstance(node, dict):
            if "dict" in node:
                return {k: self.decode(v) for k, v in node["dict"]}
            if "tuple" in node:
                return tuple(self.decode(v) for v in node["tuple"])
            for tag in ("array", "scalar", "bytes"):
                if tag in node:
                    arr = self.member(node[tag], node["dtype"], node["shape"])
                    return arr if tag == "array" else arr[()] if tag == "scalar" else arr.tobytes()
        raise _Bad(f"the manifest holds an entry of unknown form: {str(node)[:80]}")


def _read(f) -> object:
    try:
        zf = zipfile.ZipFile(f)
    except zipfile.BadZipFile as e:
        raise _Bad(f"not a zip (.npz) archive, or truncated ({e})") from None
    with zf:
        if _MANIFEST + ".npy" not in zf.namelist():
            raise _Bad(f"an archive without minigrad's manifest ({_MANIFEST}.npy), so not written by "
                       "minigrad.save; np.load(path) reads plain .npz files")
        _check_members(zf, os.fstat(f.fileno()).st_size)
        reader = _Reader(zf)
        raw = reader.member(_MANIFEST, np.dtype(np.uint8).str, None)
        manifest = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            raise _Bad("the manifest does not describe a minigrad save")
        if manifest.get("version") != _VERSION:
            raise _Bad(f"format version {manifest.get('version')!r}; this minigrad reads version {_VERSION}")
        return reader.decode(manifest["root"])


def load(path):
    """Read an object written by ``save``; never unpickles.

    Raises ``CheckpointError`` (a ``ValueError``) naming the file when it is truncated,
    corrupted, not a minigrad save, or would cost more than its own size to read (compressed,
    overlapping or lying members: see the module docstring); ``FileNotFoundError`` and friends
    when it cannot be opened.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        try:
            return _read(f)
        except _Bad as e:
            raise CheckpointError(f"cannot load '{path}': {e}") from None
        except Exception as e:  # zipfile, numpy and json report damage in many ways; say it once
            raise CheckpointError(f"cannot load '{path}': the file is corrupted or truncated "
                                  f"({type(e).__name__}: {e})") from None


# training checkpoints ---------------------------------------------------------------------------
def save_checkpoint(path, *, model=None, optimizer=None, scheduler=None, step=None, config=None,
                    generators=None, extra=None) -> None:
    """Atomically write everything needed to resume training exactly.

    Holds ``model``, ``optimizer`` and ``scheduler`` state dicts (any object with
    ``state_dict()``), ``step``, a JSON-like ``config``, the global generator's state
    (``minigrad.random``), the states of the named numpy ``generators`` (e.g. ``{"data": rng}``)
    and any ``extra`` values ``save`` accepts.
    """
    gens = generators or {}
    save({"kind": _CHECKPOINT, "step": step, "config": config, "extra": extra,
          "model": None if model is None else model.state_dict(),
          "optimizer": None if optimizer is None else optimizer.state_dict(),
          "scheduler": None if scheduler is None else scheduler.state_dict(),
          "rng": {"minigrad": _random.get_rng_state(),
                  "generators": {name: g.bit_generator.state for name, g in gens.items()}}}, path)


def load_checkpoint(path, *, model=None, optimizer=None, scheduler=None, generators=None,
                    restore_rng: bool = True, strict: bool = True) -> dict:
    """Read a ``save_checkpoint`` file and restore it into the objects given; return its contents.

    The returned dict has keys ``step``, ``config``, ``extra``, ``model``, ``optimizer``,
    ``scheduler`` and ``rng``. The global generator is restored unless ``restore_rng=False``;
    each generator in ``generators`` gets the state saved under its name. Restoring is all or
    nothing: if any part does not fit (its ``load_state_dict`` raises), the parts already
    restored are rolled back and the error propagates; a ``StateDictError`` is raised again
    naming the checkpoint file (``.file``).
    """
    ckpt = load(path)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != _CHECKPOINT:
        raise CheckpointError(f"cannot load '{path}' as a checkpoint: it was written by minigrad.save, "
                              "not save_checkpoint (use minigrad.load)")
    parts = []  # (get current state, set state, saved state) for everything to restore
    for name, obj in (("model", model), ("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is None:
            continue
        if ckpt.get(name) is None:
            raise CheckpointError(f"checkpoint '{path}' holds no {name} state")
        if name == "model":
            parts.append((obj.state_dict, lambda sd, m=obj: m.load_state_dict(sd, strict=strict), ckpt[name]))
        else:
            parts.append((obj.state_dict, obj.load_state_dict, ckpt[name]))
    if restore_rng:
        parts.append((_random.get_rng_state, _random.set_rng_state, ckpt["rng"]["minigrad"]))
    saved_gens = ckpt["rng"]["generators"]
    for name, gen in (generators or {}).items():
        if name not in saved_gens:
            raise CheckpointError(f"checkpoint '{path}' holds no state for generator '{name}' "
                                  f"(it has {sorted(saved_gens)})")
        bg = gen.bit_generator
        parts.append((lambda bg=bg: bg.state, lambda s, bg=bg: setattr(bg, "state", s), saved_gens[name]))
    done = []
    try:
        for get, put, value in parts:
            backup = get()
            put(value)
            done.append((put, backup))
    except BaseException as e:
        for put, backup in reversed(done):
            put(backup)
        if isinstance(e, StateDictError):
            raise e.in_file(path, "cannot load checkpoint") from None
        raise
    return ckpt
