"""Neural-network building blocks with PyTorch's names: modules, layers, losses, initializers."""
from .module import Module, Parameter, StateDictError

__all__ = ["Module", "Parameter", "StateDictError"]
