"""Models and Keras-truth helpers shared by the tests (built in code, never downloaded)."""
