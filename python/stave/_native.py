"""The C interface of libStaveC.so (Sources/CStave/stave.h), through ctypes.

ctypes releases the GIL for the length of every call into the library, so
queries from several Python threads run at once.
"""

import ctypes
import os
import pathlib

import pyarrow as pa


class StaveError(Exception):
    """Any error stave reports. `code` is the CLI's exit code for it
    (sysexits(3)); the message is the CLI's, naming the file or parameter."""

    code = 70

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class UsageError(StaveError, ValueError):
    """A bad parameter (exit code 64)."""
    code = 64


class InputError(StaveError, ValueError):
    """Input data stave cannot take: a malformed CSV row (with file, line
    and column), a damaged Parquet or compressed file (exit code 65)."""
    code = 65


class StoreError(StaveError):
    """A missing or damaged store, or a missing input file (exit code 66)."""
    code = 66


class NotFoundError(StaveError, LookupError):
    """Something the store does not know, such as a customer (exit code 67)."""
    code = 67


class InternalError(StaveError):
    """A bug in stave (exit code 70): please report it."""
    code = 70


class OutputExistsError(StaveError, FileExistsError):
    """An output that exists, or that stave refuses to replace (exit code 73)."""
    code = 73


class StaveIOError(StaveError, OSError):
    """An operating system error reading or writing a file (exit code 74)."""
    code = 74


class BusyError(StaveError):
    """Another writer holds the store (exit code 75): try again later."""
    code = 75


_ERRORS = {c.code: c for c in (UsageError, InputError, StoreError, NotFoundError, InternalError,
                               OutputExistsError, StaveIOError, BusyError)}


class ArrowArrayStream(ctypes.Structure):
    """struct ArrowArrayStream of the Arrow C Stream Interface."""
    _fields_ = [
        ("get_schema", ctypes.c_void_p),
        ("get_next", ctypes.c_void_p),
        ("get_last_error", ctypes.c_void_p),
        ("release", ctypes.c_void_p),
        ("private_data", ctypes.c_void_p),
    ]


def _library_path():
    given = os.environ.get("STAVE_LIBRARY")
    if given:
        return given
    return str(pathlib.Path(__file__).resolve().parent / "_lib" / "libStaveC.so")


def _load():
    path = _library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"stave: cannot load its library {path}: {e} "
                          "(install the package with `pip install ./python` from stave's repository)") from e
    c_str = ctypes.c_char_p
    c_strs = ctypes.POINTER(ctypes.c_char_p)
    err = ctypes.POINTER(ctypes.c_void_p)
    stream = ctypes.POINTER(ArrowArrayStream)
    lib.stave_version.restype = c_str
    lib.stave_version.argtypes = []
    lib.stave_free.restype = None
    lib.stave_free.argtypes = [ctypes.c_void_p]
    lib.stave_open.restype = ctypes.c_int
    lib.stave_open.argtypes = [c_str, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), err]
    lib.stave_close.restype = None
    lib.stave_close.argtypes = [ctypes.c_void_p]
    lib.stave_query.restype = ctypes.c_int
    lib.stave_query.argtypes = [ctypes.c_void_p, c_str, ctypes.c_size_t, c_strs, c_strs, stream, err]
    lib.stave_scan.restype = ctypes.c_int
    lib.stave_scan.argtypes = [ctypes.c_void_p, ctypes.c_size_t, c_strs, c_strs, stream, err]
    lib.stave_convert.restype = ctypes.c_int
    lib.stave_convert.argtypes = [c_str, c_str, ctypes.c_size_t, c_strs, c_strs, err, err]
    lib.stave_append.restype = ctypes.c_int
    lib.stave_append.argtypes = [ctypes.c_void_p, c_str, ctypes.c_size_t, c_strs, c_strs, err, err]
    return lib


lib = _load()


def take_string(pointer):
    """The text of a string the library returned, which is then freed."""
    if not pointer.value:
        return None
    try:
        return ctypes.string_at(pointer.value).decode("utf-8", "replace")
    finally:
        lib.stave_free(pointer.value)


def raise_for(code, error):
    message = take_string(error) or f"stave failed with code {code}"
    raise _ERRORS.get(code, StaveError)(message, code)


def parameters(params):
    """Name and value arrays for the C interface, from a dict (None values
    are left out)."""
    items = [(k, os.fspath(v) if isinstance(v, os.PathLike) else v) for k, v in params.items() if v is not None]
    names = (ctypes.c_char_p * max(1, len(items)))(*[k.encode() for k, _ in items])
    values = (ctypes.c_char_p * max(1, len(items)))(*[v.encode() for _, v in items])
    return len(items), names, values


def import_stream(stream):
    """A pyarrow RecordBatchReader over an exported ArrowArrayStream (which
    pyarrow then owns and releases)."""
    return pa.RecordBatchReader._import_from_c(ctypes.addressof(stream))
