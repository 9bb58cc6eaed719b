"""Quantization: choosing fixed-point types and integer weights under a design's widths.

Entry point: ``codesign.quant.methods.run_method(name, QuantJob(...), MethodSettings())``
for name in calibrate, datafree, adaround, lsq, lsqplus, dorefa, hwgq, binary, noise,
transition; then ``codesign.quant.export.verify_export(result.qnet, result.forward, x)``
proves the bit-accurate model equals the method's own torch forward.

Modules, one job each:
- calibrate: ranges per tensor (max-abs, percentile, MSE-optimal integer bits) -> design.
- fxtorch: the design's fixed-point forward in float64 torch, exact, straight-through.
- quantizers: LSQ / LSQ+ / DoReFa / HWGQ / binary / noise / transition-aware quantizers.
- qat: QatNet (trainable weights + quantizers over fxtorch) and its training loop.
- datafree: inputs synthesized from BatchNorm statistics; adaround: adaptive rounding
  (asymmetric reconstruction, activation inside the objective).
- binary: binary weights packed 1 bit each plus a scale per channel (S5 storage).
- export: quantizer types -> DesignPoint, on-grid weights -> QuantizedNet, verification.
- noise: accuracy under Gaussian weight noise.

How learned scales become fixed point: a learned step s trains freely for the first
epochs, then is snapped to the nearest power of two 2**-f (nearest in log2) and frozen for
the final `snap_epochs`, during which the network trains through the exact fixed-point
forward; a snapped step with round-half-up and clamping is the cast to
ap_fixed<W, W-f, AP_RND, AP_SAT>, which is what is exported.
"""
