"""Stage: shaped sections -> the text of a spec file (flow-style layer entries, modeline, provenance header).

Pure Python (PyYAML for the scalars).
"""

from __future__ import annotations

from typing import Any

import yaml


def flow(value: Any) -> str:
    """One value as single-line YAML flow text."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=2**31, allow_unicode=True)
    text = text.strip()
    if text.endswith("\n..."):
        text = text[:-4].strip()
    return text.removesuffix("...").strip()


def _entries(lines: list[str], items: list[tuple[dict[str, Any], str | None]], indent: str) -> None:
    for item, comment in items:
        line = f"{indent}- {flow(item)}"
        lines.append(f"{line}  # {comment}" if comment else line)


def render(
    header: list[str],
    top: dict[str, Any],
    blocks: dict[str, dict[str, Any]],
    models: dict[str, dict[str, Any]],
) -> str:
    """The spec text. `top`: the scalar and small sections (kspec, name, description, plugins, defaults, init);
    `models`: name -> {inputs, layers: [(entry, comment)], outputs}; one model is written as `model:`."""
    lines = [f"# {h}" if h else "#" for h in header]
    for key, value in top.items():
        if key == "defaults":
            lines.append("defaults:")
            lines.extend(f"  {flow(t)}: {flow(args)}" for t, args in value.items())
        elif key in ("description",) or not isinstance(value, dict | list):
            lines.append(f"{key}: {flow(value)}")
        else:
            lines.append(f"{key}: {flow(value)}")
    if blocks:
        lines.append("blocks:")
        for name, block in blocks.items():
            lines.append(f"  {flow(name)}:")
            if block.get("description"):
                lines.append(f"    description: {flow(block['description'])}")
            if block["params"]:
                lines.append(f"    params: {flow(block['params'])}")
            if block["inputs"] != ["input"]:
                lines.append(f"    inputs: {flow(block['inputs'])}")
            lines.append("    layers:")
            _entries(lines, [(e, None) for e in block["layers"]], "      ")
    single = len(models) == 1
    if not single:
        lines.append("models:")
    for name, model in models.items():
        indent = "  " if single else "    "
        lines.append("model:" if single else f"  {flow(name)}:")
        if model["inputs"]:
            lines.append(f"{indent}inputs:")
            lines.extend(f"{indent}  {flow(k)}: {flow(v)}" for k, v in model["inputs"].items())
        lines.append(f"{indent}layers:")
        _entries(lines, model["layers"], indent + "  ")
        if model.get("outputs") is not None:
            lines.append(f"{indent}outputs: {flow(model['outputs'])}")
    return "\n".join(lines) + "\n"
