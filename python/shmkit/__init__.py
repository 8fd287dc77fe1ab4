"""shmkit for Python: read shmkit record tables (named POSIX shared memory
written by the Node package, format version 3) with no copy of the data.

    import shmkit                          # pip install ./python  (numpy)
    cols = shmkit.read_table("app.t")      # {field: numpy masked array}
    tbl = shmkit.read_arrow("app.t")       # pyarrow.Table over the mapping (pip install './python[arrow]')
    tbl = shmkit.read_arrow("/data/t.shm") # a file-backed table: a path ('/...' or a pathlib.Path)

read_table views fixed-width columns and copies bools (bits) and utf8/binary
(Python objects); read_arrow copies nothing. See python/README.md.
"""
from .header import BadHeader, TableInfo
from .numpy_reader import read_schema, read_table, void_mask
from .arrow_reader import read_arrow

__all__ = ["read_table", "read_schema", "read_arrow", "void_mask", "TableInfo", "BadHeader"]
__version__ = "0.1.0"
