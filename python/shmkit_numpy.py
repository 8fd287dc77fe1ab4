"""Compatibility shim: the reader now lives in the `shmkit` package
(python/shmkit/, `pip install ./python`). `import shmkit_numpy` keeps working,
both installed and with python/ on sys.path, and is the very same module as
shmkit.numpy_reader (private helpers included).
"""
import sys

from shmkit import numpy_reader as _impl

sys.modules[__name__] = _impl
