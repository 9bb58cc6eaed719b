"""QuantizedNet -> hls4ml project (Vitis by default, Vivado on request), its C simulation,
and the element-by-element comparison with the bit-accurate model.

    project = emit_hls(qnet, "out/hls", io="parallel")   # writes the project
    project.compile()                                     # g++: the C simulation
    report = project.verify(x)                            # every output, as integers

hls4ml works channels last: inputs go in as (N, H, W, C) flattened, outputs and traces
come back that way and are turned to our channels-first layout here, so callers only
ever see the bit-accurate model's layout and mantissas.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codesign.errors import CodesignError
from codesign.hls.checks import IO_TYPES, check_emittable, order_matters
from codesign.hls.config import (
    BACKENDS,
    NameMap,
    check_applied,
    hls_part,
    layer_config,
)
from codesign.hls.csim import build_library
from codesign.hls.module import GraphModule, is_operator, module_names
from codesign.hls.tb_data import TbData, exact_results_bench, write_tb_data
from codesign.ir import layers as L
from codesign.qnet import QuantizedNet

MARKER = ".codesign-hls"  # marks a directory emit_hls made (so it may be rewritten)
PROJECT = "myproject"


@dataclass
class Mismatch:
    """Where the C simulation first departs from the bit-accurate model."""

    layer: str
    sample: int
    index: tuple[int, ...]  # channels first, per sample
    expected: int
    got: int

    def __str__(self) -> str:
        return (f"first mismatch: layer {self.layer!r}, sample {self.sample}, element "
                f"{list(self.index)}: bit-accurate {self.expected}, hls4ml {self.got}")


@dataclass
class VerifyReport:
    samples: int
    outputs: int  # output elements compared
    identical_outputs: int
    identical_samples: int
    mismatch: Mismatch | None = None

    @property
    def ok(self) -> bool:
        return self.identical_outputs == self.outputs

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"samples": self.samples, "outputs": self.outputs,
                               "identical_outputs": self.identical_outputs,
                               "identical_samples": self.identical_samples, "ok": self.ok}
        if self.mismatch is not None:
            out["first_mismatch"] = vars(self.mismatch) | {"index": list(self.mismatch.index)}
        return out


@dataclass
class HlsProject:
    qnet: QuantizedNet
    hls_model: Any  # hls4ml.model.ModelGraph
    names: NameMap
    io_type: str
    backend: str
    out_dir: Path
    compiled: bool = field(default=False)

    # -- C simulation -----------------------------------------------------------------
    def compile(self, opt: str = "-Og") -> None:
        """Build and load the C simulation library (g++, one translation unit; see
        hls_csim). opt: g++ optimization level of the simulation only."""
        lib = build_library(self.out_dir, PROJECT, opt)
        backend = self.hls_model.config.backend
        with _quiet(), _patched(backend, "compile", lambda model: str(lib)):
            self.hls_model._compile()  # loads (and first unloads) the library
        self.compiled = True

    def predict_int(self, x: np.ndarray) -> np.ndarray:
        """Output mantissas of the C simulation for float inputs (batch first, channels
        first, like QuantizedNet.forward_int)."""
        self._need_compiled()
        y = self.hls_model.predict(self._to_hls_input(x))
        y = np.asarray(y, dtype=np.float64).reshape(len(x), -1)
        out = self.qnet.graph.output
        return _channels_first(self._mantissas(y, out.name), out.out_shape)

    def trace_int(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every traced layer's output mantissas (our names, channels first)."""
        self._need_compiled()
        model = self.hls_model
        with _quiet(), _no_recompile(model):
            _, trace = model.trace(self._to_hls_input(x))
        by_hls = self.names.to_ir
        out: dict[str, np.ndarray] = {}
        for hls_name, values in trace.items():
            name = by_hls.get(hls_name)
            if name is None or name == "input":
                continue
            flat = np.asarray(values, dtype=np.float64).reshape(len(x), -1)
            out[name] = _channels_first(self._mantissas(flat, name),
                                        self.qnet.graph[name].out_shape)
        return out

    def verify(self, x: np.ndarray, batch: int = 2000) -> VerifyReport:
        """C simulation vs bit-accurate model on every output of every sample; on a
        mismatch, the per-layer trace names the first layer, sample and element."""
        x = np.asarray(x)
        got = np.concatenate([self.predict_int(x[i:i + batch]) for i in range(0, len(x), batch)])
        want = self.qnet.forward_int(x)
        assert isinstance(want, np.ndarray)
        same = (got == want).reshape(len(x), -1)
        report = VerifyReport(len(x), int(same.size), int(same.sum()),
                              int(same.all(axis=1).sum()))
        if not report.ok:
            report.mismatch = self.first_mismatch(x, int(np.argmin(same.all(axis=1))))
        return report

    def first_mismatch(self, x: np.ndarray, sample: int) -> Mismatch:
        """The first layer (in graph order) whose traced output differs on this sample."""
        one = x[sample:sample + 1]
        want = self.qnet.forward_int(one, return_all=True)
        assert isinstance(want, dict)
        traced = self.trace_int(one)
        traced[self.qnet.graph.output.name] = self.predict_int(one)
        for layer in self.qnet.graph.layers[1:]:
            if layer.name not in traced:
                continue
            diff = np.argwhere(traced[layer.name][0] != want[layer.name][0])
            if len(diff):
                idx = tuple(int(i) for i in diff[0])
                return Mismatch(layer.name, sample, idx, int(want[layer.name][0][idx]),
                                int(traced[layer.name][0][idx]))
        raise AssertionError("outputs differ but no traced layer does")

    def write_tb_data(self, x: np.ndarray) -> TbData:
        """tb_data/ vectors for hls4ml's own test bench (csim and cosim in the HLS tool):
        the inputs x on the input type's grid and the bit-accurate model's outputs."""
        return write_tb_data(self.qnet, self.out_dir, x)

    # -- layout -----------------------------------------------------------------------
    def _to_hls_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1:] != self.qnet.graph.input_shape:
            raise CodesignError(f"inputs have shape {list(x.shape[1:])} per sample, the "
                                f"network takes {list(self.qnet.graph.input_shape)}")
        if x.ndim > 2:
            x = np.moveaxis(x, 1, -1)
        return np.ascontiguousarray(x.reshape(len(x), -1))

    def _mantissas(self, y: np.ndarray, name: str) -> np.ndarray:
        lsb = self.qnet.design.type_of(name).lsb
        m = y / lsb
        r = np.rint(m)
        if not np.array_equal(m, r):
            raise CodesignError(f"layer {name!r}: the C simulation returned values off the "
                                f"grid of {self.qnet.design.type_of(name)}")
        return r.astype(np.int64)

    def _need_compiled(self) -> None:
        if not self.compiled:
            raise CodesignError("compile the C simulation first (HlsProject.compile)")


def _channels_first(flat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(N, prod) in hls4ml's channels-last order -> (N, *shape) channels first."""
    if len(shape) == 1:
        return flat.reshape(len(flat), *shape)
    last = shape[1:] + shape[:1]
    return np.moveaxis(flat.reshape(len(flat), *last), -1, 1)


# -- emission ---------------------------------------------------------------------------
def emit_hls(qnet: QuantizedNet, out_dir: str | Path, *, io: str = "parallel",
             backend: str = "Vitis", part: str | None = None, force: bool = False
             ) -> HlsProject:
    """Write the hls4ml project for qnet to out_dir and return it (not yet compiled).

    Refuses a non-empty directory it did not make unless force=True, and anything hls4ml
    would build differently from the bit-accurate model (hls_checks)."""
    if io not in IO_TYPES:
        raise CodesignError(f"io must be one of {sorted(IO_TYPES)}, not {io!r}")
    if backend not in BACKENDS:
        raise CodesignError(f"backend must be one of {BACKENDS}, not {backend!r}")
    io_type = IO_TYPES[io]
    check_emittable(qnet, io_type)
    fpga_part = hls_part(qnet.design.device, part)  # checked before anything is written
    out_dir = Path(out_dir).resolve()
    _prepare_dir(out_dir, force)

    import hls4ml  # slow import: only when emitting

    names_ir = module_names(qnet)
    module = GraphModule(qnet, names_ir).eval()
    names = NameMap(_hls_names(module, qnet, names_ir))
    with _quiet():
        base = hls4ml.utils.config_from_pytorch_model(
            module, tuple(qnet.graph.input_shape), granularity="name", backend=backend,
            default_precision="ap_fixed<16,6>", default_reuse_factor=1,
            channels_last_conversion="internal", transpose_outputs=False)
    cfg = layer_config(qnet, names, base)
    with _quiet(), _keep_flatten_order(_flatten_order_matters(qnet)):
        hls_model = hls4ml.converters.convert_from_pytorch_model(
            module, output_dir=str(out_dir), project_name=PROJECT, backend=backend,
            io_type=io_type, hls_config=cfg, part=fpga_part,
            clock_period=round(1000.0 / qnet.design.clock_mhz, 3))
    check_applied(qnet, names, hls_model)
    hls_model.config.trace_output = True  # per-layer dumps, inside #ifndef __SYNTHESIS__
    with _quiet():
        hls_model.write()
    exact_results_bench(out_dir, PROJECT)
    (out_dir / MARKER).write_text("written by codesign emit; may be overwritten by it\n")
    return HlsProject(qnet, hls_model, names, io_type, backend, out_dir)


def _hls_names(module: Any, qnet: QuantizedNet, names_ir: dict[str, str]) -> dict[str, str]:
    """Our name -> hls4ml's, read from the same fx trace hls4ml makes: submodules keep
    their names; the k-th add node is the k-th Add layer; the placeholder is the input."""
    from hls4ml.utils.torch import CustomFXTracer

    nodes = list(CustomFXTracer().trace(module).nodes)
    placeholders = [n.name for n in nodes if n.op == "placeholder"]
    adds = [n.name for n in nodes if n.op == "call_function"]
    ir_adds = [layer.name for layer in qnet.graph.layers[1:] if is_operator(layer)]
    if len(placeholders) != 1 or len(adds) != len(ir_adds):
        raise CodesignError("the rebuilt torch module does not trace to the graph's adds and "
                            "single input (internal error)")
    return {"input": placeholders[0], **names_ir, **dict(zip(ir_adds, adds, strict=True))}


def _flatten_order_matters(qnet: QuantizedNet) -> bool:
    """A Dense after a Flatten whose accumulator makes the sum order-dependent."""
    graph, design = qnet.graph, qnet.design
    for layer in graph.weighted:
        src = graph[layer.inputs[0]]
        if isinstance(layer, L.Dense) and isinstance(src, L.Flatten):
            if order_matters(design[layer.name], design.type_of(src.name), layer.terms):
                return True
    return False


@contextlib.contextmanager
def _keep_flatten_order(keep: bool) -> Iterator[None]:
    """In io_parallel hls4ml drops the transpose before a flatten and permutes the next
    Dense's weights instead, which also permutes the order its products are added in.
    Where that order matters, keep the transpose (the pass's own opt-out flag)."""
    if not keep:
        yield
        return
    from hls4ml.model.optimizer.passes.convert_to_channels_last import (
        RemoveTransposeBeforeFlatten,
    )

    original = RemoveTransposeBeforeFlatten.match
    RemoveTransposeBeforeFlatten.match = lambda self, node: False  # type: ignore[method-assign]
    try:
        yield
    finally:
        RemoveTransposeBeforeFlatten.match = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _patched(obj: Any, attr: str, value: Any) -> Iterator[None]:
    """Replace obj.attr for the duration (hls4ml offers no hook for these steps)."""
    old = obj.__dict__.get(attr, _MISSING)
    setattr(obj, attr, value)
    try:
        yield
    finally:
        if old is _MISSING:
            delattr(obj, attr)
        else:
            setattr(obj, attr, old)


_MISSING = object()


@contextlib.contextmanager
def _no_recompile(model: Any) -> Iterator[None]:
    """hls4ml's trace() recompiles; our library already has the trace code in it."""
    model.config.trace_output = True
    with _patched(model, "compile", lambda: None):
        yield


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """hls4ml prints progress on stdout (ours is for results, --json) and warns about its
    own internals; what matters is checked and raised by us."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def check_out_dir(out_dir: Path, force: bool) -> bool:
    """Refuse a non-empty directory emit did not write, unless force; True when out_dir
    holds an earlier project of ours (which emit replaces without --force)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise CodesignError(f"--out {out_dir} is a file, not a directory; name a directory "
                            "for the project")
    if not (out_dir.is_dir() and any(out_dir.iterdir())):
        return False
    ours = (out_dir / MARKER).exists()
    if not ours and not force:
        raise CodesignError(f"{out_dir} is not empty and was not written by codesign; "
                            "choose another --out or pass --force to overwrite it")
    return ours


def _prepare_dir(out_dir: Path, force: bool) -> None:
    if check_out_dir(out_dir, force):
        # Our own project is cleared (no stale files); with --force hls4ml writes over
        # the user's directory and leaves files it does not write alone.
        for child in out_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
