"""Optimized variants of a trained model: post-training quantization (converter, LiteRT quantizer,
onnxruntime), quantization-aware training, magnitude and 2:4 pruning, pruning-preserving QAT and
clustering with cluster-preserving QAT. Each is written under `optimized/` with the same metadata as
the plain exports, and verified by the same code. The build's optimize stages run the makers
(`optimize.variants.MAKERS`)."""
