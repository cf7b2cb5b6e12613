"""Stage data: sources (Keras datasets, scikit-learn, files, synthetic) -> NumPy splits -> preparation steps ->
batches. NumPy at import; TensorFlow only inside the functions that make tensors."""
