"""Wheels shaped like torch's CUDA and CPU builds, with real shared libraries built by gcc.

``tensorish`` 1.0+cu13 (the "CUDA-like" build) needs ``nvidia-gpulib``:

- ``tensorish/_C.<tag>.so`` needs ``tensorish/lib/libtensor_core.so`` (RUNPATH
  ``$ORIGIN/lib``), the CPU code every import runs;
- ``tensorish/lib/libtensor_gpu.so`` needs ``libgpu.so.1`` of the other wheel, through
  ``$ORIGIN/../../nvidia/gpulib/lib`` (as libtorch_cuda.so needs libcudnn.so.9);
- ``tensorish/lib/libtensor_global.so`` needs ``libtensor_gpu.so``; ``import tensorish``
  loads it with ctypes (as torch's ``_load_global_deps`` loads libtorch_global_deps.so);
- with ``preload=True``, ``import tensorish`` also loads ``libgpu_extra.so`` of
  nvidia-gpulib by path (no DT_NEEDED names it: only verification can see it go missing);
- with ``probe=True``, it needs ``cuda-probe`` too, and ``import tensorish`` asks it
  whether a GPU is there, inside ``try/except ImportError`` (as torch imports triton);
  ``import cuda_probe`` loads its large ``cuda_probe/_C/libprobe.so`` (libtriton.so).

``nvidia-gpulib`` 1.0: ``nvidia/gpulib/lib/libgpu.so.1``, ``libgpu_extra.so`` and a large
``libgpu_engines.so`` nothing needs (cuDNN's lazily loaded engines).

``tensorish`` 1.0+cpu (the "CPU-like" build) has no GPU library and needs nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
from conftest import build_wheel

__all__ = ["build_gpulike"]

CORE = "int core(void) { return 20; }\n"
GPU = "int gpu(void) { return 1; }\n"
EXTRA = "int extra(void) { return 1; }\n"
ENGINES = (
    "int engines(void) { return 0; }\n"
    + "static const char pad[] = {"
    + "1," * 200_000
    + "1};\nconst char *p(void) { return pad; }\n"
)  # noqa: E501
TENSOR_GPU = "int gpu(void);\nint tensor_gpu(void) { return gpu(); }\n"
GLOBAL_GPU = "int tensor_gpu(void);\nint global_deps(void) { return tensor_gpu(); }\n"
GLOBAL_CPU = "int global_deps(void) { return 1; }\n"
EXTENSION = """\
#include <Python.h>
int core(void);
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(2 * core() + 2); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", NULL, -1, methods};
PyMODINIT_FUNC PyInit__C(void) { return PyModule_Create(&module); }
"""
INIT = """\
import ctypes, os
_here = os.path.dirname(__file__)
ctypes.CDLL(os.path.join(_here, "lib", "libtensor_global.so"), mode=ctypes.RTLD_GLOBAL)
{preload}from tensorish._C import answer
from tensorish import ops
{probe}"""
PROBE = """try:
    import cuda_probe
    GPU = cuda_probe.available()
except ImportError:
    GPU = False
"""
PROBE_INIT = """import ctypes, os
_lib = ctypes.CDLL(os.path.join(os.path.dirname(__file__), "_C", "libprobe.so"))
def available():
    return False
"""
PRELOAD = ("ctypes.CDLL(os.path.join(_here, '..', 'nvidia', 'gpulib', 'lib', "
           "'libgpu_extra.so'), mode=ctypes.RTLD_GLOBAL)\n")  # fmt: skip


def _cc(directory: Path, output: str, source: str, *flags: str) -> bytes:
    (directory / f"{output}.c").write_text(source)
    include = sysconfig.get_paths()["include"]
    subprocess.run(["gcc", "-shared", "-fPIC", f"-I{include}", "-o", output, f"{output}.c",
                    *flags], cwd=directory, check=True)  # fmt: skip
    return (directory / output).read_bytes()


def build_gpulike(
    directory: Path, *, preload: bool = False, probe: bool = False
) -> dict[str, Path]:
    """Build the wheels into ``directory`` / ``cuda`` and / ``cpu``; skip without gcc."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: cannot build shared libraries")
    work = directory / "build"
    work.mkdir(parents=True, exist_ok=True)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    libgpu = _cc(work, "libgpu.so.1", GPU, "-Wl,-soname,libgpu.so.1")
    core = _cc(work, "libtensor_core.so", CORE)
    tensor_gpu = _cc(work, "libtensor_gpu.so", TENSOR_GPU, "-L.", "-l:libgpu.so.1",
                     "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../../nvidia/gpulib/lib")  # fmt: skip
    global_gpu = _cc(work, "libtensor_global.so", GLOBAL_GPU, "-L.", "-ltensor_gpu",
                     "-Wl,--enable-new-dtags,-rpath,$ORIGIN")  # fmt: skip
    extension = _cc(work, "_C.so", EXTENSION, "-L.", "-ltensor_core",
                    "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib")  # fmt: skip
    common = {
        f"tensorish/_C{suffix}": extension,
        "tensorish/lib/libtensor_core.so": core,
        "tensorish/ops.py": "def add(a, b):\n    return a + b\n",
        "tensorish/unused.py": "X = 1\n",
    }
    tag = "py3-none-linux_x86_64"
    cuda = build_wheel(directory / "cuda", "tensorish", "1.0+cu13", {
        **common,
        "tensorish/__init__.py": INIT.format(preload=PRELOAD if preload else "",
                                             probe=PROBE if probe else ""),
        "tensorish/lib/libtensor_gpu.so": tensor_gpu,
        "tensorish/lib/libtensor_global.so": global_gpu,
        "tensorish/cuda.py": "AVAILABLE = False\n",
    }, requires=("nvidia-gpulib==1.0", *(["cuda-probe==1.0"] if probe else [])),
       tag=tag)  # fmt: skip
    wheels = {}
    if probe:
        wheels["probe"] = build_wheel(directory / "cuda", "cuda-probe", "1.0", {
            "cuda_probe/__init__.py": PROBE_INIT,
            "cuda_probe/_C/libprobe.so": _cc(work, "libprobe.so", ENGINES),
            "cuda_probe/compiler.py": "X = 1\n",
        }, tag=tag)  # fmt: skip
    gpulib = build_wheel(directory / "cuda", "nvidia-gpulib", "1.0", {
        "nvidia/gpulib/lib/libgpu.so.1": libgpu,
        "nvidia/gpulib/lib/libgpu_extra.so": _cc(work, "libgpu_extra.so", EXTRA),
        "nvidia/gpulib/lib/libgpu_engines.so": _cc(work, "libgpu_engines.so", ENGINES),
        "nvidia/gpulib/include/gpu.h": "int gpu(void);\n",
    }, tag=tag)  # fmt: skip
    cpu_global = _cc(work, "libtensor_global_cpu.so", GLOBAL_CPU)
    cpu = build_wheel(directory / "cpu", "tensorish", "1.0+cpu", {
        **common,
        "tensorish/__init__.py": INIT.format(preload="", probe=""),
        "tensorish/lib/libtensor_global.so": cpu_global,
    }, tag=tag)  # fmt: skip
    return {"cuda": cuda, "gpulib": gpulib, "cpu": cpu, **wheels}
