"""Neural-network building blocks with PyTorch's names: modules, layers, losses, initializers.

``minigrad.nn.functional`` (import it as ``F``) holds the functional forms and the losses,
``minigrad.nn.init`` the initializers, ``minigrad.nn.utils`` gradient clipping.
"""
from . import functional, init, utils
from .layers import (
    Dropout, Embedding, LayerNorm, Linear, ModuleDict, ModuleList, ReLU, Sequential, Sigmoid, Tanh,
)
from .module import IncompatibleKeys, Module, Parameter, StateDictError

__all__ = [
    "Module", "Parameter", "StateDictError", "IncompatibleKeys",
    "Linear", "Embedding", "Dropout", "LayerNorm", "ReLU", "Tanh", "Sigmoid",
    "Sequential", "ModuleList", "ModuleDict", "functional", "init", "utils",
]
