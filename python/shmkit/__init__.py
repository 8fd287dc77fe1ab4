"""shmkit for Python: read shmkit record tables (named POSIX shared memory
written by the Node package) with no copy.

    import shmkit                          # pip install ./python  (numpy)
    cols = shmkit.read_table("app.t")      # {field: numpy masked array view}
    tbl = shmkit.read_arrow("app.t")       # pyarrow.Table   (pip install './python[arrow]')
"""
from .numpy_reader import BadHeader, TableInfo, read_schema, read_table, void_mask
from .arrow_reader import read_arrow

__all__ = ["read_table", "read_schema", "read_arrow", "void_mask", "TableInfo", "BadHeader"]
__version__ = "0.1.0"
