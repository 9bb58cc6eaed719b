"""The flow file: YAML loaded into frozen dataclasses that reject unknown keys.

Every section is a dataclass whose fields are the allowed keys (with their defaults);
a misspelled key, a value of the wrong type or an out-of-range value is a FlowError of
the form `flows/x.yaml:12: quantize.bits: ...`, listing the allowed keys or values.
Lists in `target.devices`, `quantize.methods` and `quantize.bits` are the sweep axes.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codesign.flow.located import FlowError, LocatedDict, LocatedList, load_located


class _Invalid(Exception):
    """Raised by a section's check(); the builder turns it into a located FlowError."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _choice(value: Any, key: str, choices: typing.Iterable[str]) -> None:
    choices = list(choices)
    if value not in choices:
        raise _Invalid(key, f"{value!r} is not one of {', '.join(map(str, choices))}")


@dataclass(frozen=True)
class TrainSpec:
    """Training of a bring-your-own model that comes without weights."""

    epochs: int = 10
    lr: float = 3e-3
    batch_size: int = 64
    seed: int = 0

    def check(self) -> None:
        for key in ("epochs", "batch_size"):
            if getattr(self, key) < 1:
                raise _Invalid(key, f"must be positive, not {getattr(self, key)}")
        if not self.lr > 0:
            raise _Invalid("lr", f"must be positive, not {self.lr}")


@dataclass(frozen=True)
class ModelSpec:
    """A zoo model by name, or `file: path/to/net.py:factory` (relative to the flow file)."""

    zoo: str | None = None
    file: str | None = None
    weights: str | None = None  # a state_dict (.pt), relative to the flow file
    input_shape: list[int] | None = None
    train: TrainSpec = field(default_factory=TrainSpec)

    def check(self) -> None:
        from codesign.zoo import ZOO

        if (self.zoo is None) == (self.file is None):
            raise _Invalid("zoo", "give exactly one of 'zoo: NAME' or 'file: net.py:factory'")
        if self.zoo is not None:
            _choice(self.zoo, "zoo", ZOO)
        if self.file is not None:
            path, _, func = self.file.rpartition(":")
            if not path.endswith(".py") or not func.isidentifier():
                raise _Invalid("file", f"{self.file!r} is not path/to/file.py:factory")
            if self.input_shape is None:
                raise _Invalid("file", "a model file needs 'input_shape: [C, H, W]'")
        if self.input_shape is not None and (
                not 1 <= len(self.input_shape) <= 3 or min(self.input_shape) < 1):
            raise _Invalid("input_shape", f"{self.input_shape} is not [C, H, W] (or [C, L] "
                                          "or [F]) with positive sizes")


@dataclass(frozen=True)
class TargetSpec:
    """The parts to build for (a sweep axis) and the clock (default: the part's own)."""

    devices: list[str] = field(default_factory=lambda: ["xc7a35t"])
    clock_mhz: float | None = None

    def check(self) -> None:
        from codesign.devices import DEVICES

        if not self.devices:
            raise _Invalid("devices", "name at least one device")
        for d in self.devices:
            _choice(d.lower(), "devices", DEVICES)
        if self.clock_mhz is not None and not self.clock_mhz > 0:
            raise _Invalid("clock_mhz", f"must be positive, not {self.clock_mhz}")


@dataclass(frozen=True)
class SensitivitySpec:
    """Per-layer sensitivity table (see `codesign sensitivity`)."""

    method: str = "hessian"
    bits: list[int] = field(default_factory=lambda: [2, 3, 4, 6, 8])
    activations: bool = True
    min_iters: int = 20
    max_iters: int = 200
    tol: float = 0.025
    batches: int = 8
    batch_size: int = 64
    seed: int = 0

    def check(self) -> None:
        from codesign.sensitivity.table import METHODS

        _choice(self.method, "method", METHODS)
        _widths(self.bits, "bits")
        if not 1 <= self.min_iters <= self.max_iters:
            raise _Invalid("min_iters", f"need 1 <= min_iters <= max_iters, not "
                                        f"{self.min_iters} and {self.max_iters}")
        for key in ("batches", "batch_size"):
            if getattr(self, key) < 1:
                raise _Invalid(key, f"must be positive, not {getattr(self, key)}")


@dataclass(frozen=True)
class QuantizeSpec:
    """Quantization of every sweep point: methods x uniform widths (both sweep axes)."""

    methods: list[str] = field(default_factory=lambda: ["calibrate"])
    bits: list[int] = field(default_factory=lambda: [8])
    calibration: str | None = None
    calib_samples: int = 512
    epochs: int = 5
    snap_epochs: int | None = None
    lr: float = 1e-2
    seed: int = 0

    def check(self) -> None:
        from codesign.quant.calibrate import CALIBRATIONS
        from codesign.quant.methods import METHODS

        if not self.methods:
            raise _Invalid("methods", "name at least one method")
        for m in self.methods:
            _choice(m, "methods", METHODS)
        _widths(self.bits, "bits")
        if self.calibration is not None:
            _choice(self.calibration, "calibration", CALIBRATIONS)
        if self.calib_samples < 1 or self.epochs < 1:
            raise _Invalid("epochs" if self.epochs < 1 else "calib_samples",
                           "must be positive")
        if self.snap_epochs is not None and not 0 <= self.snap_epochs <= self.epochs:
            raise _Invalid("snap_epochs", f"must lie between 0 and epochs ({self.epochs})")

    @property
    def snap(self) -> int:
        return self.snap_epochs if self.snap_epochs is not None else max(1, self.epochs // 4)


@dataclass(frozen=True)
class AllocateSpec:
    """Hardware-aware allocation (as `codesign allocate`): with it, the sweep points are the
    frontier designs of every allocator method (x the quantize methods) instead of
    `quantize.bits`."""

    methods: list[str] = field(default_factory=lambda: ["exact"])  # each one's frontier
    budget: dict[str, Any] = field(default_factory=dict)  # {lut: 0.5, dsp: 0}, as --budget
    points: int = 3  # frontier points along `axis` (0: one design at the budget)
    axis: str = "lut"
    bits: list[int] | None = None  # candidate widths (default: the sensitivity table's)
    reuse: list[int] | str = "auto"  # or [1, 2, 4, 8]: see codesign.alloc.folding
    fps: float | None = None  # throughput target: images/s at the target clock
    calib_samples: int = 512
    synth_check: int = 0  # K: the K designs nearest the budget made to fit by Yosys

    def check(self) -> None:
        from codesign.alloc.budget import BUDGET_KEYS
        from codesign.alloc.frontier import AXES
        from codesign.alloc.methods import METHODS

        if not self.methods:
            raise _Invalid("methods", "name at least one allocator method")
        for m in self.methods:
            _choice(m, "methods", METHODS)
        if len(set(self.methods)) != len(self.methods):
            raise _Invalid("methods", f"{self.methods} names a method twice")
        _choice(self.axis, "axis", AXES)
        for key, value in self.budget.items():
            _choice(key, "budget", BUDGET_KEYS)
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise _Invalid("budget", f"{key}: {value!r} is not a number (a count, a "
                                         "fraction like 0.5 or a percentage like '50%')")
        try:
            self.budget_for(None, check_only=True)
        except ValueError as exc:
            raise _Invalid("budget", str(exc)) from None
        if self.points < 0:
            raise _Invalid("points", f"must be 0 or more, not {self.points}")
        if self.bits is not None:
            _widths(self.bits, "bits")
        if self.reuse != "auto" and (isinstance(self.reuse, str) or not self.reuse or any(
                isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in self.reuse)):
            raise _Invalid("reuse", f"{self.reuse!r} must be 'auto' or a list of positive "
                                    "reuse factors")
        if self.fps is not None and (isinstance(self.fps, bool)
                                     or not isinstance(self.fps, (int, float)) or self.fps <= 0):
            raise _Invalid("fps", f"must be a positive number of images per second, not "
                                  f"{self.fps!r}")
        if self.calib_samples < 1:
            raise _Invalid("calib_samples", f"must be positive, not {self.calib_samples}")
        if isinstance(self.synth_check, bool) or not isinstance(self.synth_check, int) \
                or self.synth_check < 0:
            raise _Invalid("synth_check", f"must be a number of designs (0 or more) to "
                                          f"synthesize, not {self.synth_check!r}")

    def budget_text(self) -> str:
        """The budget as the CLI's --budget text (so fractions parse the same way)."""
        return ",".join(f"{k}={v}" for k, v in self.budget.items())

    def budget_for(self, device: str | None, check_only: bool = False):
        """The Budget on `device` (fractions of its resources resolved)."""
        from codesign.alloc.budget import parse_budget
        from codesign.alloc.candidates import AllocationError

        try:
            return parse_budget(self.budget_text(), device)
        except AllocationError as exc:
            if check_only and "name the device" in str(exc):
                return None
            raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class SelectSpec:
    """Which sweep point becomes the chosen design: the smallest (total weight bits) whose
    validation accuracy is within max_accuracy_drop of the best point's."""

    max_accuracy_drop: float = 0.01

    def check(self) -> None:
        if not 0 <= self.max_accuracy_drop <= 1:
            raise _Invalid("max_accuracy_drop", "is a fraction between 0 and 1 (0.01 = one "
                                                "accuracy point)")


COST_MODELS = ("structural", "fast")


@dataclass(frozen=True)
class CostSpec:
    """Estimated LUT/FF/DSP/BRAM and cycles of every point (as `codesign cost`: the
    structural estimate of the RTL plan by default, `model: fast` for the allocator's
    per-layer model); with cost, the chosen point is the one with the fewest LUTs."""

    fit_only: bool = True  # choose only among points that fit the device (every resource)
    model: str = "structural"

    def check(self) -> None:
        _choice(self.model, "model", COST_MODELS)


@dataclass(frozen=True)
class SynthSpec:
    """Yosys synthesis of the chosen design (as `codesign synth`), compared with the
    estimate resource by resource; ECP5 parts are also placed and routed for Fmax."""

    place_and_route: bool = True
    # seconds; past it the tools are stopped and the report says "timed out after N s"
    # with how far they got (the flow goes on and does not fail)
    timeout_s: float | None = None

    def check(self) -> None:
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise _Invalid("timeout_s", f"must be a positive number of seconds, not "
                                        f"{self.timeout_s:g}")


@dataclass(frozen=True)
class HlsSpec:
    """The hls4ml project of the chosen design, and its C simulation."""

    io: str = "parallel"
    backend: str = "vitis"
    csim: bool = True
    csim_samples: int = 200

    def check(self) -> None:
        _choice(self.io, "io", ("parallel", "stream"))
        _choice(self.backend, "backend", ("vitis", "vivado"))
        if self.csim_samples < 1:
            raise _Invalid("csim_samples", f"must be positive, not {self.csim_samples}")


@dataclass(frozen=True)
class RtlSpec:
    """The SystemVerilog accelerator of the chosen design, and its Verilator simulation."""

    sim: bool = True
    sim_samples: int = 50
    stress: bool = False

    def check(self) -> None:
        if self.sim_samples < 1:
            raise _Invalid("sim_samples", f"must be positive, not {self.sim_samples}")


@dataclass(frozen=True)
class ReportSpec:
    """The report: `compare` names earlier run directories (relative to the flow file)
    drawn with this run on one frontier plot, as `codesign report DIR...`."""

    compare: list[str] = field(default_factory=list)

    def check(self) -> None:
        if any(not d.strip() for d in self.compare):
            raise _Invalid("compare", f"{self.compare} must be run directories")


@dataclass(frozen=True)
class SweepSpec:
    """How sweep points run: worker processes (default: min(points, CPUs))."""

    workers: int | None = None

    def check(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise _Invalid("workers", f"must be positive, not {self.workers}")


@dataclass(frozen=True)
class Flow:
    """A whole flow. A section set to null skips its stage; synth is off unless the file
    has a `synth:` section (it takes minutes)."""

    model: ModelSpec
    name: str | None = None
    dataset: str | None = None  # a dataset name or path (relative to the flow file)
    target: TargetSpec = field(default_factory=TargetSpec)
    sensitivity: SensitivitySpec | None = field(default_factory=SensitivitySpec)
    quantize: QuantizeSpec = field(default_factory=QuantizeSpec)
    allocate: AllocateSpec | None = None
    select: SelectSpec = field(default_factory=SelectSpec)
    cost: CostSpec | None = field(default_factory=CostSpec)
    hls: HlsSpec | None = field(default_factory=HlsSpec)
    rtl: RtlSpec | None = field(default_factory=RtlSpec)
    synth: SynthSpec | None = None
    sweep: SweepSpec = field(default_factory=SweepSpec)
    report: ReportSpec = field(default_factory=ReportSpec)
    source: Path | None = field(default=None, metadata={"internal": True})

    def check(self) -> None:
        if self.name is not None and (not self.name or "/" in self.name):
            raise _Invalid("name", f"{self.name!r} must be a non-empty name without '/'")
        if self.allocate is not None and self.sensitivity is None:
            raise _Invalid("allocate", "the allocator needs the sensitivity stage: add a "
                                       "'sensitivity:' section (or remove 'allocate:')")

    def resolve(self, relative: str | None) -> str | None:
        """A path written in the flow file, taken relative to the file's folder."""
        if relative is None or self.source is None:
            return relative
        path = Path(relative).expanduser()
        return str(path if path.is_absolute() else self.source.parent / path)

    @property
    def title(self) -> str:
        return self.name or (self.source.stem if self.source else "flow")


def _widths(bits: list[int], key: str) -> None:
    if not bits or any(not 1 <= b <= 32 for b in bits):
        raise _Invalid(key, f"{bits} must be widths from 1 to 32 bits")


# -- the generic builder ---------------------------------------------------------------
def allowed_keys(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if not f.metadata.get("internal")]


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _kind(value: Any) -> str:
    """What a YAML value is, in the user's words (not our internal LocatedList)."""
    if isinstance(value, list):
        return f"a list ({value!r})"
    if isinstance(value, str):
        return f"the text {value!r}"
    return f"{value!r}"


class _Builder:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, line: int, key: str, message: str) -> FlowError:
        return FlowError(f"{self.path}:{line}: {key}: {message}")

    def section(self, cls: type, data: Any, where: str, line: int) -> Any:
        if not isinstance(data, dict):
            raise self.fail(line, where or "flow", f"expected a mapping of "
                            f"{', '.join(allowed_keys(cls))}, not {_kind(data)}")
        lines = getattr(data, "lines", {})
        allowed = allowed_keys(cls)
        for key in data:
            if key not in allowed:
                raise self.fail(lines.get(key, line), _dot(where, key),
                                f"unknown key; allowed keys: {', '.join(allowed)}")
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for key, value in data.items():
            kwargs[key] = self.value(hints[key], value, _dot(where, key),
                                     lines.get(key, line))
        try:
            obj = cls(**kwargs)
        except TypeError:  # a required key is missing
            missing = [f.name for f in dataclasses.fields(cls)
                       if f.default is dataclasses.MISSING
                       and f.default_factory is dataclasses.MISSING and f.name not in kwargs]
            if not missing:
                raise
            raise self.fail(line, where or "flow",
                            f"missing required key(s) {missing}") from None
        try:
            obj.check()
        except _Invalid as exc:
            raise self.fail(lines.get(exc.key, line), _dot(where, exc.key), str(exc)) from None
        return obj

    def value(self, tp: Any, value: Any, key: str, line: int) -> Any:
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(tp) if a is not type(None)]
            if value is None:
                if type(None) in typing.get_args(tp):
                    return None
            first: FlowError | None = None
            for option in options:  # the first type that takes the value (list[int] | str)
                try:
                    return self.value(option, value, key, line)
                except FlowError as exc:
                    first = first or exc
            assert first is not None
            raise first
        if dataclasses.is_dataclass(tp):
            return self.section(tp, value, key, getattr(value, "line", line))
        if origin is dict:
            if not isinstance(value, dict):
                raise self.fail(line, key, f"expected a mapping, got {value!r}")
            return dict(value)
        if origin is list:
            (item_tp,) = typing.get_args(tp)
            if not isinstance(value, list):  # one item for a list of one; its own line
                value = [value]
            items = value
            item_lines = getattr(value, "lines", [line] * len(items))
            return [self.value(item_tp, v, key, ln) for v, ln in zip(items, item_lines,
                                                                     strict=True)]
        ok = (isinstance(value, tp) and not (tp is int and isinstance(value, bool))
              or tp is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            raise self.fail(line, key, f"expected {_type_name(tp)}, got {value!r}")
        return float(value) if tp is float else value


def _dot(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def load_flow(path: str | Path) -> Flow:
    """Read and check a flow file."""
    path = Path(path)
    data = load_located(path)
    if data is None:
        data = LocatedDict()
        data.line, data.lines = 1, {}
    flow = _Builder(path).section(Flow, data, "", getattr(data, "line", 1))
    flow = dataclasses.replace(flow, source=path.resolve())
    if flow.model.file is not None:
        model_path = Path(flow.resolve(flow.model.file.rpartition(":")[0]) or "")
        if not model_path.is_file():
            raise _Builder(path).fail(data["model"].lines.get("file", 1), "model.file",
                                      f"{model_path} does not exist")
    for key in ("weights",):
        rel = getattr(flow.model, key)
        if rel is not None and not Path(flow.resolve(rel) or "").is_file():
            raise _Builder(path).fail(data["model"].lines.get(key, 1), f"model.{key}",
                                      f"{flow.resolve(rel)} does not exist")
    return flow


__all__ = ["Flow", "FlowError", "LocatedList", "load_flow"]
