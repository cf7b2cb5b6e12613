"""Stage build, the Keras wall: resolved graphs -> Keras 3 functional models (`functional`), plugin layers (`plugins`).

Importing this package is light; Keras is imported when a model is built.
"""

from kspec.compiler.functional import Compiled, build, make_layer, summarize, to_keras_config

__all__ = ["Compiled", "build", "make_layer", "summarize", "to_keras_config"]
