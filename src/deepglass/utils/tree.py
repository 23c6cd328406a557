"""Nested structures (tensors inside lists, tuples and dicts): flatten, map, and rebuild."""


def flatten(structure):
    """All leaves of a nested list/tuple/dict, depth first, dict values in key order as given."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for item in structure.values() for leaf in flatten(item)]
    return [structure]


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
