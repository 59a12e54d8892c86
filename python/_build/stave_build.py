"""The PEP 517 build backend of the stave Python package.

It builds the C interface, libStaveC.so, with the Swift toolchain (swift
build -c release --product StaveC, in the repository above this folder)
and writes a wheel holding the Python code and that library. No
dependencies: the wheel is a zip file with the three dist-info files the
wheel specification asks for (METADATA, WHEEL, RECORD).

Environment:
  STAVE_LIBRARY   use this libStaveC.so instead of building one
  STAVE_PORTABLE  1: build for the baseline CPU (default: AVX2 when the
                  building CPU has it, as scripts/build does)
"""

import base64
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

HERE = pathlib.Path(__file__).resolve().parent.parent   # python/
REPO = HERE.parent
NAME = "stave"
VERSION = "0.1.0"


def _metadata():
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\n"
        f"Version: {VERSION}\n"
        "Summary: stave from Python: music-listening event stores queried in-process, "
        "results as Arrow tables and streams\n"
        "Requires-Python: >=3.9\n"
        "Requires-Dist: pyarrow>=14\n"
        "Provides-Extra: test\n"
        'Requires-Dist: pytest; extra == "test"\n'
        'Requires-Dist: duckdb; extra == "test"\n'
        'Requires-Dist: polars; extra == "test"\n'
    )


def _tag():
    # ctypes, not the CPython C API: any Python 3, this platform only.
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"py3-none-{plat}"


def _library():
    given = os.environ.get("STAVE_LIBRARY")
    if given:
        path = pathlib.Path(given)
        if not path.is_file():
            sys.exit(f"stave_build: STAVE_LIBRARY={given} is not a file")
        return path
    if shutil.which("swift") is None:
        sys.exit("stave_build: the Swift toolchain (swift) is not on PATH; it builds libStaveC.so")
    args = ["swift", "build", "-c", "release", "--product", "StaveC"]
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if os.environ.get("STAVE_PORTABLE", "0") != "1" and cpuinfo.exists() and " avx2" in cpuinfo.read_text():
        args += ["-Xswiftc", "-target-cpu", "-Xswiftc", "haswell"]
    print("stave_build:", " ".join(args), file=sys.stderr)
    subprocess.run(args, cwd=REPO, check=True, stdout=sys.stderr)
    out = subprocess.run(args + ["--show-bin-path"], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    return pathlib.Path(out) / "libStaveC.so"


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    library = _library().read_bytes()
    tag = _tag()
    dist_info = f"{NAME}-{VERSION}.dist-info"
    files = []
    for path in sorted((HERE / NAME).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files.append((path.relative_to(HERE).as_posix(), path.read_bytes()))
    files.append((f"{NAME}/_lib/libStaveC.so", library))
    files.append((f"{dist_info}/METADATA", _metadata().encode()))
    files.append((f"{dist_info}/WHEEL", (
        "Wheel-Version: 1.0\n"
        "Generator: stave_build\n"
        "Root-Is-Purelib: false\n"
        f"Tag: {tag}\n").encode()))
    record = "\n".join(_record_line(n, d) for n, d in files) + f"\n{dist_info}/RECORD,,\n"
    name = f"{NAME}-{VERSION}-{tag}.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / name, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            info = zipfile.ZipInfo(n, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if n.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, d)
        z.writestr(f"{dist_info}/RECORD", record)
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError("stave is installed from its repository (pip install ./python); there is no sdist")
