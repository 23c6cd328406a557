"""Nested structures (tensors inside lists, tuples and dicts): flatten, map, and rebuild."""


def flatten(structure):
    """All leaves of a nested list/tuple/dict, depth first, dict values in key order as given."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for item in structure.values() for leaf in flatten(item)]
    return [structure]


def flatten_like(structure, value):
    """The leaves of `value` in the order `flatten(structure)` lists `structure`'s: dicts matched by key, not by
    the order their keys were given in (Keras's tree sorts dict keys, so the order never mattered there)."""
    if isinstance(structure, dict) and isinstance(value, dict):
        return [leaf for key in structure for leaf in flatten_like(structure[key], value[key])]
    if isinstance(structure, (list, tuple)) and isinstance(value, (list, tuple)) and len(structure) == len(value):
        return [leaf for part, item in zip(structure, value) for leaf in flatten_like(part, item)]
    return flatten(value)


def map_structure(fn, structure):
    """The same nesting with `fn` applied to every leaf."""
    if isinstance(structure, list):
        return [map_structure(fn, item) for item in structure]
    if isinstance(structure, tuple):
        return tuple(map_structure(fn, item) for item in structure)
    if isinstance(structure, dict):
        return {key: map_structure(fn, item) for key, item in structure.items()}
    return fn(structure)


def pack_like(structure, leaves):
    """Rebuild `structure`'s nesting from a flat list of leaves (the inverse of `flatten`)."""
    leaves = iter(leaves)
    return map_structure(lambda _: next(leaves), structure)
