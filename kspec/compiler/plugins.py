"""Custom layers by explicit registration: Python packages that declare a `kspec.plugins` entry point.

kspec ships one plugin itself, `kspec_book` (the book's custom layers, `kspec.compiler.book_layers`). A spec
names a plugin (`plugins: [kspec_example]`) and uses its layers as `type: "kspec_example>SFC"`, the
`package>Name` form of `keras.saving.register_keras_serializable`. Only modules that an installed package registered
under the entry-point group are ever imported; a spec cannot name an arbitrary module. Imports the standard library
only (the plugin module itself is imported by the compiler, when building).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable
from types import ModuleType

GROUP = "kspec.plugins"


#: plugins kspec ships itself (the book's custom layers): name -> module
BUILTIN = {"kspec_book": "kspec.compiler.book_layers"}


@functools.cache
def registered() -> dict[str, str]:
    """Plugin name -> module: kspec's own, then those read from installed packages' metadata (nothing imported).

    Reading every installed package's metadata takes about 10 ms: callers that only need kspec's own plugins
    ask `needs_scan` first (and `importlib.metadata`, a few more ms to import, is imported here only)."""
    from importlib import metadata

    return {**BUILTIN, **{ep.name: ep.value for ep in metadata.entry_points(group=GROUP) if ep.name not in BUILTIN}}


def needs_scan(names: Iterable[str]) -> bool:
    """Whether checking `names` needs the installed packages' plugins (a name that is not one of kspec's own)."""
    return any(name not in BUILTIN for name in names)


def load(name: str) -> ModuleType:
    """Import the module registered as plugin `name`; its import registers its Keras layers."""
    modules = registered()
    if name not in modules:
        raise LookupError(f"no installed package registers the kspec plugin '{name}' (entry-point group {GROUP})")
    return importlib.import_module(modules[name].split(":")[0])
