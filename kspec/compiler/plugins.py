"""Custom layers by explicit registration: Python packages that declare a `kspec.plugins` entry point.

A spec names a plugin (`plugins: [kspec_example]`) and uses its layers as `type: "kspec_example>SFC"`, the
`package>Name` form of `keras.saving.register_keras_serializable`. Only modules that an installed package registered
under the entry-point group are ever imported; a spec cannot name an arbitrary module. Imports the standard library
only (the plugin module itself is imported by the compiler, when building).
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import entry_points
from types import ModuleType

GROUP = "kspec.plugins"


@functools.cache
def registered() -> dict[str, str]:
    """Plugin name -> module, read from installed packages' metadata without importing anything."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def load(name: str) -> ModuleType:
    """Import the module registered as plugin `name`; its import registers its Keras layers."""
    modules = registered()
    if name not in modules:
        raise LookupError(f"no installed package registers the kspec plugin '{name}' (entry-point group {GROUP})")
    return importlib.import_module(modules[name].split(":")[0])
