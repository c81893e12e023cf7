"""The spec format as a JSON Schema, generated from the same declarations the validator uses
(spec.TOP_LEVEL, the registry's layer and loss options), so the two cannot drift apart."""
from __future__ import annotations

from .options import CHECKERS, Option
from ..model.registry import GATES, LAYERS, LOSSES, Builtin
from .custom_keys import MAX_PARAM_DIMS, METHOD_ROLES, PARAM_INITS, RESERVED
from .load import MAX_DIMS, TOLERANCE, TOP_LEVEL
from .loss_keys import CUSTOM_LOSS_KEYS

CUSTOM_PATTERN = r"^[^:\s][^:]*:[A-Za-z_][A-Za-z0-9_]*$"

_KIND = {
    "integer": {"type": "integer"},
    "positive_int": {"type": "integer", "minimum": 1},
    "non_negative_int": {"type": "integer", "minimum": 0},
    "number": {"type": "number"},
    "positive_number": {"type": "number", "exclusiveMinimum": 0},
    "non_negative_number": {"type": "number", "minimum": 0},
    "bool": {"type": "boolean"},
    "string": {"type": "string", "minLength": 1},
}
assert set(_KIND) == set(CHECKERS), "every option kind needs a JSON Schema counterpart"


# YAML 1.1 loaders (PyYAML) read `1e-6` as a string; gradcheck reads it as the number it is.
_EXPONENT_NUMBER = {"type": "string", "pattern": r"^[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+$"}
_UNSIGNED_EXPONENT_NUMBER = {"type": "string", "pattern": r"^\+?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+$"}


def _option(option: Option) -> dict:
    if option.choices:
        schema = {"enum": list(option.choices)}
    elif option.kind == "layers":
        schema = {"$ref": "#/$defs/layers"}
    elif _KIND[option.kind]["type"] == "number":
        written = _EXPONENT_NUMBER if option.kind == "number" else _UNSIGNED_EXPONENT_NUMBER
        schema = {"anyOf": [dict(_KIND[option.kind]), written]}
    else:
        schema = dict(_KIND[option.kind])
    if option.doc:
        schema["description"] = option.doc
    if not option.required and option.default is not None:
        schema["default"] = option.default
    return schema


def _options_object(options: dict[str, Option]) -> dict:
    return {
        "type": "object",
        "properties": {name: _option(o) for name, o in options.items()},
        "required": [name for name, o in options.items() if o.required],
        "additionalProperties": False,
    }


def _layer_forms(name: str, builtin: Builtin, extra: dict | None = None) -> list[dict]:
    """A built-in's forms: {type: NAME, ...}, {NAME: {...}}, NAME; `extra`: more keys it may take (a graph
    loss's `in`)."""
    doc = builtin.summary
    options = _options_object(builtin.options)
    options["properties"].update(extra or {})
    typed = {**options, "properties": {"type": {"const": name}, **options["properties"]},
             "required": ["type", *options["required"]], "description": doc}
    keyed = {"type": "object", "properties": {name: {"oneOf": [options, {"type": "null"}]} if not options["required"]
                                              else options},
             "required": [name], "additionalProperties": False, "description": doc}
    forms = [typed, keyed]
    if not options["required"]:
        forms.append({"const": name, "description": doc})
    return forms


def _names_schema(table, extra: dict | None = None) -> list[dict]:
    forms = []
    for name, builtin in table.items():
        forms += _layer_forms(name, builtin, extra)
    return forms


# The graph form (spec/graph.py): inputs by name, nodes that name what they take.
_REFERENCE = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[0-9]+)?$",
              "description": "an input or a node, or node.K for output K of a node returning a tuple"}
_NODE_KEYS = {"name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$", "not": {"const": "loss"},
                       "description": "the node's name, which later nodes and the loss use"},
              "in": {"anyOf": [_REFERENCE, {"type": "array", "items": _REFERENCE, "minItems": 1}],
                     "description": "what the node takes: an input or a node, or a list of them"}}


def _node_forms(custom: dict) -> list[dict]:
    """A node: a built-in layer's or a gate's typed form with name and in, or a custom layer's."""
    forms = []
    for name, builtin in {**LAYERS, **GATES}.items():
        if name == "residual":  # a stack's: a graph writes its gates
            continue
        typed = _layer_forms(name, builtin, _NODE_KEYS)[0]
        forms.append({**typed, "required": [*typed["required"], "name", "in"]})
    forms.append({**custom, "properties": {**custom["properties"], **_NODE_KEYS},
                  "required": ["type", "name", "in"]})
    return forms


def _input_forms() -> list[dict]:
    shape = {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": MAX_DIMS}
    drawn = {"type": "object", "required": ["shape"], "additionalProperties": False,
             "properties": {"shape": shape, "integers": {"type": "integer", "minimum": 1},
                            "low": {"type": "number"}, "high": {"type": "number"}}}
    return [shape, drawn]


def _either_form() -> list[dict]:
    """A stack (input, layers) or a graph (inputs, graph), never a mix; each with its loss."""
    def without(*keys):
        return {"not": {"anyOf": [{"required": [key]} for key in keys]}}
    return [{"required": ["input", "layers"], **without("inputs", "graph"),
             "properties": {"loss": {"$ref": "#/$defs/loss"}}},
            {"required": ["inputs", "graph"], **without("input", "layers"),
             "properties": {"loss": {"$ref": "#/$defs/graph_loss"}}}]


_NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}
_ATTRIBUTE_PATH = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|[0-9]+))*$"}
_SHAPE = {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1, "maxItems": MAX_PARAM_DIMS}
_RESERVED_KINDS = {
    "mapping_of_names": {"type": "object", "propertyNames": _ATTRIBUTE_PATH, "additionalProperties": _ATTRIBUTE_PATH},
    "names": {"type": "array", "items": _ATTRIBUTE_PATH},
    "methods": {"type": "object", "properties": {role: _NAME for role in METHOD_ROLES}, "additionalProperties": False},
    "mapping": {"type": "object", "propertyNames": _NAME},
    "param_shapes": {"type": "object", "propertyNames": _NAME, "additionalProperties": {"anyOf": [_SHAPE, {
        "type": "object", "required": ["shape"], "additionalProperties": False,
        "properties": {"shape": _SHAPE, "init": {"enum": list(PARAM_INITS)},
                       "scale": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, _UNSIGNED_EXPONENT_NUMBER]}}}]}},
}


def _custom_layer_schema() -> dict:
    """A custom layer entry: its reserved keys described (custom_keys.RESERVED), every other
    key free (constructor options)."""
    reserved = {key: {**_RESERVED_KINDS[option.kind], "description": option.doc} for key, option in RESERVED.items()}
    return {
        "type": "object",
        "properties": {"type": {"type": "string", "pattern": CUSTOM_PATTERN,
                                "description": "a custom layer: package.module:Class or path/to/file.py:Class"},
                       **reserved},
        "required": ["type"],
        "additionalProperties": True,
        "description": "a custom layer; keys other than " + ", ".join(RESERVED) + " go to the constructor",
    }


def _custom_loss_schema(extra: dict | None = None) -> dict:
    """A custom loss entry: type, targets and args (spec/loss_keys.py), nothing else (in a graph
    spec also `in`, the node it takes: `extra`)."""
    targets, args = CUSTOM_LOSS_KEYS["targets"], CUSTOM_LOSS_KEYS["args"]
    return {
        "type": "object",
        "properties": {"type": {"type": "string", "pattern": CUSTOM_PATTERN,
                                "description": "a custom loss: a function loss(x, y) -> (loss, dx) or a class with "
                                               "forward(y, targets) and backward(), as module:name or "
                                               "path/to/file.py:name"},
                       "targets": {**_option(targets)},
                       "args": {**_RESERVED_KINDS["mapping"], "description": args.doc}, **(extra or {})},
        "required": ["type"],
        "additionalProperties": False,
        "description": "a custom loss",
    }


def spec_schema() -> dict:
    custom = _custom_layer_schema()
    properties = {}
    for key, option in TOP_LEVEL.items():
        if option.kind == "shape":
            properties[key] = {"anyOf": _input_forms(), "description": option.doc}
        elif option.kind == "inputs":
            properties[key] = {"type": "object", "minProperties": 1, "description": option.doc,
                               "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                               "additionalProperties": {"anyOf": _input_forms()}}
            continue
        elif option.kind == "graph":
            properties[key] = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/node"},
                               "description": option.doc}
            continue
        elif option.kind == "layers":
            properties[key] = {"$ref": "#/$defs/layers", "description": option.doc}
        elif option.kind == "loss":  # which of the two, _either_form says
            properties[key] = {"anyOf": [{"$ref": "#/$defs/loss"}, {"$ref": "#/$defs/graph_loss"}],
                               "description": option.doc}
        elif option.kind == "tolerance":
            properties[key] = {**_options_object(TOLERANCE), "description": option.doc}
        else:
            properties[key] = _option(option)
        if not option.required and option.default is None:  # `name: null` means "the default"
            properties[key] = {"anyOf": [properties[key], {"type": "null"}], "description": option.doc}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "gradcheck spec",
        "type": "object",
        "properties": properties,
        "required": [k for k, o in TOP_LEVEL.items() if o.required and k not in ("input", "layers")],
        "anyOf": _either_form(),
        "additionalProperties": False,
        "$defs": {
            "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/layer"}},
            "layer": {"anyOf": [*_names_schema(LAYERS), custom,
                                {"type": "string", "pattern": CUSTOM_PATTERN}]},
            "loss": {"anyOf": [*_names_schema(LOSSES), _custom_loss_schema(),
                               {"type": "string", "pattern": CUSTOM_PATTERN}]},
            "node": {"anyOf": _node_forms(custom)},
            "graph_loss": {"anyOf": [*_names_schema(LOSSES, {"in": _REFERENCE}),
                                     _custom_loss_schema({"in": _REFERENCE})]},
        },
    }
