"""The Keras catalogue (generated from the installed Keras, checked in): what exists and how spec values are checked.

Stdlib only, never keras: `validate`, `draw` and `schema` read it without TensorFlow. `python -m
kspec.catalog.introspect` regenerates `catalog.json`; a drift test holds it equal to the installed Keras.
"""

from kspec.catalog.checking import check_layer, check_object, check_op, path_arguments
from kspec.catalog.entries import (
    OBJECT_KINDS,
    PLUGIN_PATTERN,
    RESERVED_KEYS,
    Catalog,
    LayerInfo,
    ObjectInfo,
    OpInfo,
    ParamInfo,
    canonical_layer,
    layer_info,
    layer_names,
    load,
    object_info,
    object_names,
    op_info,
    op_names,
)

__all__ = [
    "OBJECT_KINDS",
    "PLUGIN_PATTERN",
    "RESERVED_KEYS",
    "Catalog",
    "LayerInfo",
    "ObjectInfo",
    "OpInfo",
    "ParamInfo",
    "canonical_layer",
    "check_layer",
    "check_object",
    "check_op",
    "layer_info",
    "layer_names",
    "load",
    "object_info",
    "object_names",
    "op_info",
    "op_names",
    "path_arguments",
]
