"""Ray Tune callbacks of a run: result files, TensorBoard, MLflow, progress lines, time-budget marks."""
