"""Third-party files copied in unchanged, each with its provenance in its header.

- `metadata_schema_py_generated.py`: the TFLite Model Metadata schema's flatc Python bindings, from the
  mediapipe 1.2.3 wheel (`mediapipe/tasks/metadata/`), Apache License 2.0. Vendored because no installable
  package ships them beside TensorFlow 2.21 without the heavy clients (tflite-support pins protobuf < 4);
  `tests/test_export.py` checks the copy equals MediaPipe's below its header when the clients extra is installed.
"""
