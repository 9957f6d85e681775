"""The portable suite: numeric tests that run unchanged on every lane,
Keras 3 (TensorFlow, JAX, PyTorch) and Keras 2 (tf.keras, Theano)."""
