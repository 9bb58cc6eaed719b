"""codesign: hardware co-design for quantized CNNs."""
