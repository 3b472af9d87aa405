"""minigrad's benchmark suite: ``python -m bench`` (or ``make bench``).

Every workload runs minigrad next to a hand-written numpy reference (forward, BPTT and optimizer
step, written here), checks that both give the same loss and gradients from the same weights and
data, and times them in the same process; PyTorch joins when it is importable. The command
writes ``bench/RESULTS.md``.
"""
import os

# One BLAS thread, as the Makefile sets: the models are small and every number compares like with
# like. Set before numpy is imported anywhere in this package.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
