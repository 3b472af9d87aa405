"""``Module`` and ``Parameter``: models find their parameters by walking their own attributes."""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Mapping
from reprlib import recursive_repr
import os
import weakref

import numpy as np

from ..tensors import Tensor, as_array

__all__ = ["Module", "Parameter", "StateDictError", "IncompatibleKeys"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
IncompatibleKeys.__doc__ = "What a non-strict ``load_state_dict`` skipped (PyTorch's return value)."


class Parameter(Tensor):
    """A tensor a ``Module`` owns and an optimizer updates (requires grad unless told otherwise)."""

    # the module whose attribute name ``name`` was taken from (a weak reference), see ``_adopt``
    __slots__ = ("_namer",)

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)
        self._namer = None
        # NOTE: parameters are always C-ordered: a Fortran-ordered one (from a transposed array)
        # makes every elementwise optimizer update against C-ordered gradients many times slower
        if not self.data.flags.c_contiguous:
            self.data = np.ascontiguousarray(self.data)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class StateDictError(ValueError):
    """``load_state_dict`` found problems; the message lists every one of them.

    ``problems`` holds one line per problem; ``missing_keys`` and ``unexpected_keys`` the names;
    ``file`` the checkpoint being loaded, when there is one (its name is then in the message).
    A ``ValueError``, not a ``KeyError``: most problems (shapes, dtypes) are not missing keys.
    """

    def __init__(self, message: str, problems=(), missing_keys=(), unexpected_keys=(), file=None):
        super().__init__(message)
        self.problems = list(problems)
        self.missing_keys = list(missing_keys)
        self.unexpected_keys = list(unexpected_keys)
        self.file = file

    def in_file(self, path, what: str) -> "StateDictError":
        """The same problems, reported against the file ``path``: ``{what} '{path}': {message}``."""
        path = os.fspath(path)
        return StateDictError(f"{what} '{path}': {self}", self.problems, self.missing_keys, self.unexpected_keys,
                              file=path)


def _members(name: str, value):
    """(dotted name, Parameter or Module) for ``value`` and whatever lists, tuples or dicts hold."""
    if isinstance(value, (Parameter, Module)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _members(f"{name}.{i}", v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _members(f"{name}.{k}", v)


def _adopt(owner: "Module", attr: str, value) -> None:
    """Name the parameters reachable through ``owner.attr = value`` as ``owner`` names them.

    A parameter gets its attribute name when first assigned (``weight_hh_l0``); when the module
    holding it is assigned into another, the name grows by that attribute (``rnn.weight_hh_l0``),
    so after bottom-up construction every parameter carries its PyTorch name from the outermost
    module, and a drawing of any graph can label it. A name is only ever replaced by one given
    from a module that contains the module that named it, or by a direct assignment into a module
    outside the one that named it; so a tied weight keeps its first name, a weight handed from a
    scratch module to its owner takes the owner's name, and a name the user set is kept.
    """
    if attr == "_modules":  # containers name their members by position or key alone
        items = value.items() if isinstance(value, dict) else enumerate(value)
        members = [m for key, v in items for m in _members(str(key), v)]
    else:
        members = _members(attr, value)
    ref = None
    for name, v in members:
        ref = ref or weakref.ref(owner)
        if isinstance(v, Parameter):
            namer = v._namer() if v._namer is not None else None
            if v.name is None or (namer is not None and not any(m is owner for m in namer.modules())):
                v.name, v._namer = name, ref
            continue
        inside = {id(m) for m in v.modules()}
        for sub, p in v.named_parameters():
            namer = p._namer() if p._namer is not None else None
            if p.name is None or (namer is not None and id(namer) in inside):
                p.name, p._namer = f"{name}.{sub}", ref


class Module:
    """Base class of layers and models.

    Subclasses assign parameters and sub-modules as attributes (directly or inside lists, tuples
    and dicts) and define ``forward``. Discovery follows definition order and names things the
    way PyTorch does (``layers.0.weight_ih``); a tensor reachable twice (tied weights) is
    reported once.
    """

    def __new__(cls, *args, **kwargs):
        # set here rather than in __init__, so a subclass that forgets super().__init__() still works
        obj = super().__new__(cls)
        obj.__dict__["training"] = True
        return obj

    def __init__(self):
        pass

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __setattr__(self, name: str, value) -> None:
        object.__setattr__(self, name, value)
        _adopt(self, name, value)

    # discovery ----------------------------------------------------------------------------------
    def _direct(self):
        for name, value in vars(self).items():
            if name == "_modules":
                # containers (Sequential, ModuleList, ModuleDict) keep their members here, and
                # PyTorch names those by position or key alone: "0.weight", not "_modules.0.weight"
                items = value.items() if isinstance(value, dict) else enumerate(value)
                for key, v in items:
                    yield from _members(str(key), v)
            else:
                yield from _members(name, value)

    def named_children(self):
        """(name, module) for each direct sub-module."""
        seen = set()
        for name, m in self._direct():
            if isinstance(m, Module) and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        """Each direct sub-module, once."""
        return (m for _, m in self.named_children())

    def named_modules(self, prefix: str = ""):
        """(dotted name, module) for this module and every module below it, each once."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(f"{name}.{n}" if name else n, c) for n, c in m.named_children()]
            stack.extend(reversed(kids))

    def modules(self):
        """This module and every module below it, each once."""
        return (m for _, m in self.named_modules())

    def _named_parameters_all(self, prefix: str = "", _path: frozenset = frozenset()):
        """Every (name, parameter) pair, tied parameters once per name (what state_dict needs).

        A module that refers back to one of its ancestors (``child.parent = self``) is not
        entered again, so such back references cannot recurse forever.
        """
        path = _path | {id(self)}
        for name, v in self._direct():
            full = f"{prefix}{name}"
            if isinstance(v, Parameter):
                yield full, v
            elif id(v) not in path:
                yield from v._named_parameters_all(full + ".", path)

    def named_parameters(self, prefix: str = ""):
        """(dotted name, parameter) in definition order; a tied parameter appears once, under its first name."""
        seen = set()
        for name, p in self._named_parameters_all(f"{prefix}." if prefix else ""):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def parameters(self):
        """Every parameter once (tied ones too), in definition order: what an optimizer takes."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """Total number of scalar parameters (tied ones counted once)."""
        return sum(p.data.size for p in self.parameters())

    # state --------------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (or, with ``set_to_none=False``, fill it with zeros)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data = np.zeros_like(p.data)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn) -> "Module":
        """Call ``fn(m)`` on every sub-module and then on this one (e.g. a custom initialisation)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def train(self, mode: bool = True) -> "Module":
        """Set ``training`` on this module and every module below it (dropout reads it)."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        """``train(False)``: dropout off."""
        return self.train(False)

    def to(self, dtype) -> "Module":
        """Convert every floating parameter to the floating ``dtype`` (e.g. float64 for gradcheck),
        in place; integer and boolean parameters keep their dtype (as in PyTorch).

        The parameters stay the same objects, so an optimizer built earlier still updates them,
        but the state it already holds (momenta, running averages) keeps the old dtype: convert
        before building the optimizer, or reload its state, which casts it to the parameters'
        dtypes (``opt.load_state_dict(opt.state_dict())``).
        """
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to converts parameters to a floating dtype, got {dtype}")
        for p in self.parameters():
            if p.dtype.kind == "f":
                p.data = p.data.astype(dtype, order="C")
                p.grad = None
        return self

    def double(self) -> "Module":
        """Parameters to float64 (what gradcheck needs)."""
        return self.to(np.float64)

    def float(self) -> "Module":
        """Parameters to float32."""
        return self.to(np.float32)

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Name -> copy of the parameter's array; tied parameters appear under each of their names."""
        return OrderedDict((name, p.data.copy()) for name, p in self._named_parameters_all())

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (or tensors) into the parameters of the same names.

        Checks everything before changing anything, and reports every problem together in one
        ``StateDictError``: shape and dtype mismatches always, missing and unexpected keys when
        ``strict``. Returns the (missing, unexpected) keys, which only a non-strict load can skip.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a mapping of names to arrays, got {type(state_dict).__name__}")
        own = dict(self._named_parameters_all())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict:
            problems += [f"missing key '{k}'" for k in missing]
            problems += [f"unexpected key '{k}'" for k in unexpected]
        updates = {}  # id(parameter) -> (name, parameter, array); tied names share one entry
        for name, value in state_dict.items():
            if name not in own:
                continue
            arr = as_array(value)
            p = own[name]
            if arr.shape != p.shape:
                problems.append(f"'{name}': shape {arr.shape} in the state dict, {p.shape} in the model")
            elif arr.dtype != p.dtype:
                problems.append(f"'{name}': dtype {arr.dtype} in the state dict, {p.dtype} in the model")
            elif id(p) in updates and not np.array_equal(updates[id(p)][2], arr):
                first = updates[id(p)][0]
                problems.append(f"'{name}': tied to '{first}' (one parameter), but the state dict gives them different values")
            else:
                updates.setdefault(id(p), (name, p, arr))
        if problems:
            raise StateDictError(
                f"load_state_dict into {type(self).__name__}: {len(problems)} problem(s):\n  "
                + "\n  ".join(problems), problems, missing if strict else (), unexpected if strict else ())
        for _, p, arr in updates.values():
            p.data = np.array(arr, copy=True, order="C")  # C order whatever the source (see Parameter)
        return IncompatibleKeys(missing, unexpected)

    # display ------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """One line of configuration shown in ``repr`` (override in layers)."""
        return ""

    @recursive_repr(fillvalue="...")  # a back reference to an ancestor prints as "..."
    def __repr__(self) -> str:
        kids = list(self.named_children())
        extra = self.extra_repr()
        if not kids:
            return f"{type(self).__name__}({extra})"
        lines = [f"{type(self).__name__}(" + extra]
        for name, m in kids:
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return "\n".join(lines) + "\n)"
