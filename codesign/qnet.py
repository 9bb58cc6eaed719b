"""QuantizedNet: Graph + DesignPoint + integer weights. What every back end consumes.

Saved as a directory: design.yaml (the DesignPoint, naming its weights file) and
quantized.npz (the graph structure, its float parameters for reference, and the
integer weight/bias mantissas). Every later command takes the design.yaml.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from codesign import bitaccurate as ba
from codesign.design import DesignPoint
from codesign.devices import Device
from codesign.errors import CodesignError, DesignError
from codesign.finite import describe_nonfinite
from codesign.ir import layers as L
from codesign.ir.graph import Graph

WEIGHTS_FILE = "quantized.npz"
# forward_int runs big batches in chunks whose widest array (a conv's windows) holds about
# this many elements: small enough to stay in cache, big enough to amortize the per-layer
# Python work (digits_cnn: ~25% less time than one 1,654-sample batch).
CHUNK_ELEMENTS = 1 << 20

STAMP_KEY = "design.json"  # in the .npz: what its integers were made under (see _stamp)


def _stamp(graph: Graph, design: DesignPoint) -> dict[str, Any]:
    """What the saved integers mean: the model, and for every layer its name and kind and,
    for weighted layers, the weight and bias types whose grids the mantissas lie on.
    Result and accumulator types, reuse and device may change after quantization."""
    layers: dict[str, Any] = {}
    for layer in graph.layers[1:]:
        entry: dict[str, Any] = {"kind": layer.kind}
        if isinstance(layer, L.WeightedLayer):
            impl = design.layers.get(layer.name)
            entry["weight"] = str(impl.weight) if impl is not None else None
            entry["bias"] = str(impl.bias) if impl is not None else None
        layers[layer.name] = entry
    return {"model": design.model, "layers": layers}


def _stamp_difference(saved: dict[str, Any], now: dict[str, Any]) -> str | None:
    """The first way `now` differs from `saved`, in words; None when they agree."""
    if saved.get("model") != now["model"]:
        return f"it was written for model {saved.get('model')}, the design names {now['model']}"
    old, new = saved.get("layers", {}), now["layers"]
    if list(old) != list(new):
        return f"its layers are {', '.join(old)}; the design's network has {', '.join(new)}"
    for name, entry in old.items():
        for key, value in entry.items():
            if new[name].get(key) != value:
                return f"layer {name!r} had {key} {value} when it was written, the design " \
                       f"now says {new[name].get(key)}"
    return None


@dataclass(frozen=True, eq=False)
class QuantizedNet:
    graph: Graph
    design: DesignPoint
    weights: dict[str, np.ndarray]  # layer -> int64 mantissas, torch layout, on weight type
    biases: dict[str, np.ndarray]  # layer -> int64 mantissas on bias type

    def __post_init__(self) -> None:
        self.design.validate(self.graph)
        for layer in self.graph.weighted:
            impl = self.design[layer.name]
            for what, store, ref, t in (("weight", self.weights, layer.weight, impl.weight),
                                        ("bias", self.biases, layer.bias, impl.bias)):
                if layer.name not in store:
                    plural = "biases" if what == "bias" else "weights"
                    raise DesignError(f"layer {layer.name!r}: no integer {plural}")
                arr = store[layer.name]
                if arr.shape != ref.shape or arr.dtype != np.int64:
                    raise DesignError(f"layer {layer.name!r}: {what} mantissas must be int64 "
                                      f"of shape {ref.shape}, got {arr.dtype} {arr.shape}")
                assert t is not None
                if arr.size and (arr.min() < t.min_int or arr.max() > t.max_int):
                    raise DesignError(f"layer {layer.name!r}: {what} mantissas leave the range "
                                      f"of {t}")

    @classmethod
    def from_float(cls, graph: Graph, design: DesignPoint) -> QuantizedNet:
        """Put the graph's float weights on the design's grids (the weight type's rounding
        and overflow modes decide how)."""
        weights, biases = {}, {}
        for layer in graph.weighted:
            impl = design[layer.name]
            assert impl.weight is not None and impl.bias is not None
            weights[layer.name] = impl.weight.to_int(layer.weight)
            biases[layer.name] = impl.bias.to_int(layer.bias)
        return cls(graph, design, weights, biases)

    # -- the bit-accurate forward -------------------------------------------------------
    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Float inputs (batch first) -> input-type mantissas, checking the shape."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1:] != self.graph.input_shape:
            raise CodesignError(f"inputs have shape {list(x.shape[1:])} per sample, the network "
                                f"takes {list(self.graph.input_shape)}")
        bad = describe_nonfinite(x)
        if bad is not None:  # no fixed-point value stands for NaN or Inf
            raise CodesignError(f"the inputs hold {bad} (index: sample, then element); "
                                "give finite inputs")
        return self.design.input.to_int(x)

    def forward_int(self, x: np.ndarray, *, return_all: bool = False
                    ) -> np.ndarray | dict[str, np.ndarray]:
        """Integer mantissas of the output (or of every layer, by name) for float inputs.

        Without return_all, conv2d -> [ReLU ->] max pool chains run fused where that gives
        the same integers (bitaccurate.run_conv2d_maxpool), and big batches run in chunks
        (samples are independent); with it, layer by layer in one batch."""
        xm = self.quantize_input(x)
        if return_all:
            return self._run(xm, {})
        step, out = self._chunk, self.graph.output.name
        if len(xm) <= step:
            return self._run(xm, self._fused)[out]
        return np.concatenate([self._run(xm[i:i + step], self._fused)[out]
                               for i in range(0, len(xm), step)])

    def _run(self, xm: np.ndarray, chains: dict[str, tuple[L.ReLU | None, L.MaxPool2d]]
             ) -> dict[str, np.ndarray]:
        """Every computed layer's mantissas for input mantissas xm (fused links absent)."""
        design = self.design
        values: dict[str, np.ndarray] = {"input": xm}
        skip: set[str] = set()
        for layer in self.graph.layers[1:]:
            if layer.name in skip:
                continue
            impl = design[layer.name]
            args = [(values[i], design.type_of(i)) for i in layer.inputs]
            if layer.name in chains:
                relu, pool = chains[layer.name]
                assert isinstance(layer, L.Conv2d) and isinstance(pool, L.MaxPool2d)
                values[pool.name] = ba.run_conv2d_maxpool(
                    layer, args[0], impl, self.weights[layer.name], self.biases[layer.name],
                    pool, design[pool.name], None if relu is None else design[relu.name])
                skip.update(n.name for n in (relu, pool) if n is not None)
                continue
            params = ((self.weights[layer.name], self.biases[layer.name])
                      if layer.has_weights else None)
            out = ba.ARITHMETIC(layer)(layer, args, impl, params)
            values[layer.name] = out
        return values

    @cached_property
    def _chunk(self) -> int:
        """Samples per chunk: CHUNK_ELEMENTS over the widest per-sample array."""
        widest = max([int(np.prod(layer.out_shape)) for layer in self.graph.layers] +
                     [layer.macs([]) // layer.out_channels for layer in self.graph.weighted])
        return max(1, CHUNK_ELEMENTS // max(widest, 1))

    @cached_property
    def _fused(self) -> dict[str, tuple[L.ReLU | None, L.MaxPool2d]]:
        return self.fused_chains()

    def fused_chains(self) -> dict[str, tuple[L.ReLU | None, L.MaxPool2d]]:
        """conv2d name -> (its ReLU or None, its max pool) for the chains forward_int fuses:
        each link the only consumer of the one before, none the output, casts order-keeping."""
        graph, out = self.graph, self.graph.output.name
        chains: dict[str, tuple[L.ReLU | None, L.MaxPool2d]] = {}

        def sole(name: str) -> L.Layer | None:
            users = graph.consumers(name)
            return users[0] if len(users) == 1 and name != out else None

        for conv in graph.layers:
            if not isinstance(conv, L.Conv2d):
                continue
            nxt = sole(conv.name)
            relu = nxt if isinstance(nxt, L.ReLU) else None
            pool = sole(relu.name) if relu is not None else nxt
            if isinstance(pool, L.MaxPool2d) and ba.fusable(
                    self.design[conv.name], None if relu is None else self.design[relu.name],
                    self.design[pool.name]):
                chains[conv.name] = (relu, pool)
        return chains

    def forward(self, x: np.ndarray, *, return_all: bool = False
                ) -> np.ndarray | dict[str, np.ndarray]:
        """Like forward_int, as real values (mantissa * lsb)."""
        ints = self.forward_int(x, return_all=True)
        assert isinstance(ints, dict)
        reals = {name: m * self.design.type_of(name).lsb for name, m in ints.items()}
        return reals if return_all else reals[self.graph.output.name]

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Class predictions (argmax of the output mantissas), in batches."""
        out = [np.argmax(self.forward_int(x[i:i + batch_size]), axis=1)
               for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def float_weights(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The quantized weights and biases as real values, per weighted layer."""
        out = {}
        for layer in self.graph.weighted:
            impl = self.design[layer.name]
            assert impl.weight is not None and impl.bias is not None
            out[layer.name] = (self.weights[layer.name] * impl.weight.lsb,
                               self.biases[layer.name] * impl.bias.lsb)
        return out

    # -- files ----------------------------------------------------------------------
    def save(self, out_dir: str | Path, *, force: bool = False) -> Path:
        """Write out_dir/design.yaml and out_dir/quantized.npz; returns the YAML path.

        Refuses to overwrite an existing design unless force=True.
        """
        out_dir = Path(out_dir)
        yaml_path = out_dir / "design.yaml"
        check_save_dir(out_dir, force)
        out_dir.mkdir(parents=True, exist_ok=True)
        arrays = self.graph.to_arrays()
        arrays[STAMP_KEY] = np.array(json.dumps(_stamp(self.graph, self.design)))
        for name, w in self.weights.items():
            arrays[f"int/{name}/weight"] = w
        for name, b in self.biases.items():
            arrays[f"int/{name}/bias"] = b
        np.savez_compressed(out_dir / WEIGHTS_FILE, **arrays)
        replace(self.design, weights=WEIGHTS_FILE).save(yaml_path)
        return yaml_path

    @classmethod
    def load(cls, design_path: str | Path) -> QuantizedNet:
        design_path = Path(design_path)
        design = DesignPoint.load(design_path)
        if design.weights is None:
            raise CodesignError(f"{design_path} names no quantized weights (key 'weights'); "
                                "make one with `codesign quantize`")
        npz = design_path.parent / design.weights
        if not npz.is_file():
            raise CodesignError(f"{design_path} names weights {design.weights}, but {npz} "
                                "does not exist")
        arrays, graph = _read_weights_file(npz)
        if STAMP_KEY not in arrays:  # nothing to check the design's types against
            raise DesignError(f"{npz} has no {STAMP_KEY!r} record of the design its integer "
                              f"weights were made under, so nothing shows they belong to "
                              f"{design_path} (a weight or bias type edited in the YAML would "
                              "silently change every result). Re-run `codesign quantize` to "
                              "write a matching pair")
        problem = _stamp_difference(json.loads(str(arrays[STAMP_KEY])), _stamp(graph, design))
        if problem is not None:
            raise DesignError(f"{npz} does not belong to {design_path}: {problem}. "
                              "Its integer weights mean something only under the design "
                              "they were saved with; re-run `codesign quantize` to write "
                              "a matching pair")
        weights = {k.split("/")[1]: v.astype(np.int64) for k, v in arrays.items()
                   if k.startswith("int/") and k.endswith("/weight")}
        biases = {k.split("/")[1]: v.astype(np.int64) for k, v in arrays.items()
                  if k.startswith("int/") and k.endswith("/bias")}
        return cls(graph, design, weights, biases)


def check_save_dir(out_dir: Path, force: bool) -> None:
    """Refuse to overwrite a saved design unless force (commands check this before any
    long computation, and before their output directory is set up)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise CodesignError(f"--out {out_dir} is a file, not a directory; name a directory "
                            "for design.yaml and its weights")
    yaml_path = out_dir / "design.yaml"
    if not force and (yaml_path.exists() or (out_dir / WEIGHTS_FILE).exists()):
        raise CodesignError(f"{yaml_path} already exists; choose another --out or pass "
                            "--force to overwrite it")


def _read_weights_file(npz: Path) -> tuple[dict[str, np.ndarray], Graph]:
    """The arrays of a quantized.npz and the graph they hold, or a DesignError naming the
    file: an empty, truncated or foreign file must not end in numpy's or zipfile's
    traceback in every command that loads a design."""
    redo = "re-run `codesign quantize` to write it again"
    # numpy and zipfile raise a dozen kinds of exception on a damaged file (BadZipFile,
    # EOFError, zlib.error, NotImplementedError, tokenize's TokenError...): all mean that
    try:
        data = np.load(npz, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 (see above)
        raise DesignError(f"{npz} is not an .npz archive: {_why(npz, exc)}; {redo}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise DesignError(f"{npz} holds a single array, not the .npz archive `codesign "
                          f"quantize` writes; {redo}")
    try:
        with data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # noqa: BLE001 (as above)
        raise DesignError(f"{npz} is damaged: {_why(npz, exc)}; {redo}") from None
    try:
        if STAMP_KEY in arrays:
            json.loads(str(arrays[STAMP_KEY]))
        graph = Graph.from_arrays(arrays)
    except CodesignError as exc:
        raise DesignError(f"{npz}: {exc}; {redo}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # JSON errors included
        raise DesignError(f"{npz} does not hold the graph `codesign quantize` writes "
                          f"({type(exc).__name__}: {exc}); {redo}") from None
    for layer in graph.weighted:
        for what in ("weight", "bias"):
            arr = arrays.get(f"int/{layer.name}/{what}")
            if arr is None or arr.dtype.kind not in "iu":
                raise DesignError(f"{npz} holds no integer {what} mantissas for layer "
                                  f"{layer.name!r}; {redo}")
    return arrays, graph


def _why(npz: Path, exc: BaseException) -> str:
    """numpy's and zipfile's reasons in the user's terms."""
    if npz.stat().st_size == 0:
        return "the file is empty"
    if isinstance(exc, ValueError) and "pickled" in str(exc):
        return "it is neither a zip archive nor a numpy array (another kind of file)"
    return f"it is truncated or damaged ({type(exc).__name__}: {exc})"


def retarget(qnet: QuantizedNet, device: Device | None,
                clock_mhz: float | None) -> QuantizedNet:
    """qnet for the part and clock synthesized: its adder graphs are pipelined to them
    (codesign.rtl.pipeline), whatever part and clock the design was made for."""
    changes: dict[str, Any] = {}
    if device is not None and device.part != qnet.design.device:
        changes["device"] = device.part
    if clock_mhz is not None and clock_mhz != qnet.design.clock_mhz:
        changes["clock_mhz"] = clock_mhz
    if not changes:
        return qnet
    return QuantizedNet(qnet.graph, replace(qnet.design, **changes), qnet.weights,
                        qnet.biases)
