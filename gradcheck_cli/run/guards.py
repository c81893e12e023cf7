"""Size guards: a spec too large to check is a spec error before anything is built (its input
and the parameters its built-ins will make), and again after build (what custom layers made)."""
from __future__ import annotations

import math

from ..errors import SpecError


def guard_size(spec, max_elements: int) -> None:
    """Refuse, before any work, a spec whose arrays would not fit: the input, and the
    parameters of built-in linear layers (custom layers are not known until they run)."""
    total, where = spec_scalars(spec)
    if total > max_elements:
        raise _too_large(spec, total, max_elements, where=where)


def spec_scalars(spec) -> tuple[int, str]:
    """(the input and built-in parameter scalars known before the spec is built, where they count from)."""
    from ..spec.load import layer_sizes
    ids = spec.input_spec.is_integer if spec.graph is None else False  # ids are not perturbed: nothing checked
    if spec.graph is not None:
        from ..spec.graph import scalars
        return scalars(spec.graph), "inputs"
    return (0 if ids else math.prod(spec.input)) + sum(layer_sizes(spec.layers, spec.input[-1])), "input"


def guard_built(network, max_elements: int) -> None:
    """Refuse, once it is built and before any gradient is checked, a spec whose input and
    parameters (every layer's: a custom class's, a function pair's, weights found as
    attributes) hold more scalars than the limit, naming the layer (or node) that holds the most."""
    import numpy as np

    from ..model.network import parameters

    if hasattr(network, "stack"):
        held = [(sum(int(owner.params()[key].size) for _, owner, key in parameters(entry)), entry.name)
                for entry in network.stack.entries]
        ids = not np.issubdtype(network.x.dtype, np.floating)  # integer ids are never perturbed: they do not count
        total, where, unit = 0 if ids else int(network.x.size), "input", "layer"
    else:  # a graph spec: its nodes, its inputs
        held = [(sum(int(value.size) for value in node.params().values()), f"{node.name} ({node.type})")
                for node in network.nodes]
        total, where, unit = sum(int(value.size) for value in network.inputs.values()), "inputs", "node"
    total += sum(size for size, _ in held)
    if total > max_elements:
        size, name = max(held, key=lambda pair: pair[0])
        raise _too_large(network.spec, total, max_elements, f"; {unit} {name} holds {size:,} of them", where)


def _too_large(spec, total: int, max_elements: int, most: str = "", where: str = "input") -> SpecError:
    itemsize = 4 if spec.dtype == "float32" else 8
    return SpecError(f"about {total:,} scalars in the input and parameters ({total * itemsize / 1e9:.1f} GB, "
                     f"checked one by one){most}; the limit is {max_elements:,}: raise it with --max-elements",
                     spec.path, spec.marks.line((where,)), where=where)
