"""edgecnn: train compact depthwise-separable CNNs and ship verified TFLite and ONNX models.

Importing edgecnn is cheap: TensorFlow is imported only by the stages that need it.
"""

__version__ = "0.1.0"
