"""minigrad: a numpy reverse-mode autograd engine that records unrolled recurrent graphs.

Two engines share one graph protocol (``minigrad.graph``): the scalar ``Value`` (micrograd's API)
and the numpy-backed ``Tensor`` (PyTorch's vocabulary). ``minigrad.testing`` (hypothesis
strategies and gradient assertions for property-based tests) is imported on its own, so that
hypothesis stays an optional dependency.
"""
from numpy import bool_, float16, float32, float64, int32, int64  # noqa: F401  (dtype names users expect)

from . import memory  # noqa: F401  (keeps freed memory for reuse; see minigrad.memory)

from .graph import current_scope, scope, step_of, step_scope, toposort
from .value import Value
from .tensors import (
    Tensor, arange, cat, eye, full, get_default_dtype, maximum, minimum, one_hot, ones, ones_like,
    rand, randn, set_default_dtype, stack, uniform, where, zeros, zeros_like,
    einsum, exp, from_dlpack, log, logsumexp, matmul, sigmoid, tanh, tensor, as_tensor,
)
from .function import At, Deferred, Function, ShapeError, gradient_slot
from .modes import (
    AnomalyError, detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, keep_grads, no_grad,
    set_grad_enabled,
)
from .random import get_rng_state, manual_seed, set_rng_state
from .gradcheck import GradcheckError, gradcheck
from . import optim
from .io import load, save
from . import weights  # noqa: F401  (.safetensors files; the package is imported only when used)

__version__ = "0.1.0"

__all__ = [
    "Value", "Tensor", "Function", "Deferred", "At", "gradient_slot", "scope", "current_scope", "step_scope", "step_of", "toposort",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled",
    "keep_grads",
    "AnomalyError", "ShapeError", "gradcheck", "GradcheckError",
    "manual_seed", "get_rng_state", "set_rng_state", "set_default_dtype", "get_default_dtype",
    "zeros", "ones", "full", "eye", "arange", "randn", "rand", "uniform", "zeros_like", "ones_like",
    "cat", "stack", "where", "maximum", "minimum", "one_hot", "float32", "float64", "int64",
    "tanh", "sigmoid", "exp", "log", "logsumexp", "matmul", "einsum", "from_dlpack", "tensor", "as_tensor",
    "float16", "int32", "bool_", "half", "double", "long",
    "save", "load",
]

# PyTorch's names for the dtypes (``dtype=minigrad.long``, ``x.to(minigrad.float)``). float, int and
# bool shadow the builtins here only, as in torch, and stay out of __all__ so ``import *`` keeps them.
half, double, long = float16, float64, int64
float, int, bool = float32, int32, bool_  # noqa: A001
