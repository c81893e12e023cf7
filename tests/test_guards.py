"""Guards, by class: nothing a spec names is called before it is known to be what the spec says
(a layer class with its methods, a function pair); whatever a layer hands back that is not a
plain array of real floats — complex, boolean, object, string, np.matrix, masked — is an error
naming the layer, in forward, in dL/dx and in every way a parameter's gradient is read, never a
pass; and --max-elements counts every parameter once the layers are built."""
from __future__ import annotations

import json
import textwrap

import pytest

from conftest import invoke_cli

EXPECTED = "expected a numpy array of real floating-point numbers"
pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


def spec_of(tmp_path, entry: str, layers: str = "", extra: str = ""):
    if layers:
        (tmp_path / "layers.py").write_text(textwrap.dedent(layers), encoding="utf-8")
    path = tmp_path / "spec.yaml"
    path.write_text(f"input: [3, 2]\nlayers:\n  - {entry}\n{extra}", encoding="utf-8")
    return path


def outcome(tmp_path, spec, *args):
    target = tmp_path / "r.json"
    result = invoke_cli("run", spec, "--json", target, *args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result, json.loads(target.read_text(encoding="utf-8"))["specs"][0]


# --- nothing is called before it is known to be a layer -----------------------------------------

@pytest.mark.parametrize("entry, message", [
    ("{type: 'os:system', command: 'touch PWNED'}",
     "os:system is a function, neither a class nor a function pair (looked for system_forward and system_backward)"),
    ("{type: 'builtins:print', sep: 'PWNED'}",
     "builtins:print is a function, neither a class nor a function pair (looked for print_forward and "
     "print_backward)"),
    ("{type: 'shutil:rmtree', path: 'victim'}",
     "shutil:rmtree is a function, neither a class nor a function pair (looked for rmtree_forward and "
     "rmtree_backward)"),
    ("{type: 'os:O_RDONLY'}", "os:O_RDONLY is an int, not a layer class or a function pair"),
    ("{type: 'os:path'}", "os:path is a module, not a layer class or a function pair"),
    ("{type: 'os:environ'}", "os:environ is an _Environ, not a layer class or a function pair"),
    ("{type: 'subprocess:Popen', init: {args: ['touch', 'PWNED']}}",
     "subprocess:Popen has no forward method (looked for forward, forward_pass, __call__); name it with methods: "
     "{forward: NAME}"),
    ("{type: 'functools:partial', func: 'x'}",
     "functools:partial has no backward method (looked for backward, backward_pass); name it with methods: "
     "{backward: NAME}"),
])
def test_what_is_no_layer_is_refused_without_being_called(tmp_path, monkeypatch, entry, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "victim").mkdir()
    spec = spec_of(tmp_path, entry)
    result = invoke_cli("run", "-q", spec)
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == f"{spec}:3: layers[0]: {message}"
    assert "PWNED" not in result.output and not (tmp_path / "PWNED").exists() and (tmp_path / "victim").is_dir()


SIDE_EFFECTS = '''
import pathlib


class NoForward:
    def __init__(self):
        pathlib.Path("constructed").write_text("the constructor ran")

    def backward(self, g):
        return g


class NoBackward:
    def __init__(self):
        pathlib.Path("constructed").write_text("the constructor ran")

    def forward(self, x):
        return x


class Renamed:
    def __init__(self):
        pathlib.Path("constructed").write_text("the constructor ran")

    def run(self, x):
        return x

    def backward(self, g):
        return g


class Factory:
    """A callable object without layer methods: calling it would make something."""

    def __call__(self, **options):
        pathlib.Path("constructed").write_text("the factory ran")


make = Factory()
'''


@pytest.mark.parametrize("entry, message", [
    ("{type: ./layers.py:NoForward}", "./layers.py:NoForward has no forward method (looked for forward, forward_pass, "
                                      "__call__); name it with methods: {forward: NAME}"),
    ("{type: ./layers.py:NoBackward}", "./layers.py:NoBackward has no backward method (looked for backward, "
                                       "backward_pass); name it with methods: {backward: NAME}"),
    ("{type: ./layers.py:Renamed, methods: {forward: fwd}}",
     "./layers.py:Renamed has no method 'fwd' (methods: {forward: fwd}); its methods: backward, run"),
    ("{type: ./layers.py:make}", "./layers.py:make is a Factory, not a layer class or a function pair"),
])
def test_a_class_without_its_methods_is_refused_before_it_is_made(tmp_path, monkeypatch, entry, message):
    monkeypatch.chdir(tmp_path)
    spec = spec_of(tmp_path, entry, SIDE_EFFECTS)
    result = invoke_cli("run", "-q", spec)
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == f"{spec}:3: layers[0]: {message}"
    assert not (tmp_path / "constructed").exists()


def test_a_layer_object_made_by_the_module_is_refused_naming_its_class(tmp_path):
    """A spec names a class or a function pair; an object the module made would carry its state
    from one spec to the next."""
    spec = spec_of(tmp_path, "{type: ./layers.py:double}", '''
        class Double:
            def forward(self, x):
                return 2.0 * x

            def backward(self, g):
                return 2.0 * g


        double = Double()
        ''')
    result = invoke_cli("run", "-q", spec)
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == (f"{spec}:3: layers[0]: ./layers.py:double is a Double, not a layer class "
                                             "or a function pair (a layer object: name its class, which each spec "
                                             "builds afresh)")


# --- what a layer hands back ---------------------------------------------------------------------

# name -> (an expression of `y` (a real float array) that makes the hostile value, how it is described)
HOSTILE = {
    "complex": ("y.astype(complex)", "an array of complex numbers (complex128)"),
    "object": ("y.astype(object)", "an array of Python objects (object)"),
    "string": ("y.astype(str)", "an array of strings (<U32)"),
    "bool": ("y > 0", "an array of booleans (bool)"),
    "matrix": ("np.asmatrix(y)", "a numpy.matrix (always 2-D, * is a matrix product)"),
    "masked": ("np.ma.masked_array(y, mask=np.zeros_like(y, dtype=bool))",
               "a masked array (numpy.ma.MaskedArray; its mask would be dropped)"),
    "subclass": ("y.view(Sub)", "a Sub, a subclass of numpy.ndarray"),
}
HOSTILE_LAYERS = '''
import numpy as np


class Sub(np.ndarray):
    pass


def hostile(y, kind):
    return eval(KINDS[kind])


KINDS = {kinds!r}


class Forward:
    def __init__(self, kind):
        self.kind = kind

    def forward(self, x):
        return hostile(2.0 * x, self.kind)

    def backward(self, g):
        return 2.0 * g


class InputGradient(Forward):
    def forward(self, x):
        return 2.0 * x

    def backward(self, g):
        return hostile(2.0 * g, self.kind)


class ParamGradient(Forward):
    def build(self, shape, rng):
        self.params, self.grads = {{"w": rng.standard_normal(shape[-1])}}, {{}}

    def forward(self, x):
        self.x = x
        return x * self.params["w"]

    def backward(self, g):
        self.grads["w"] = hostile((g * self.x).sum(0), self.kind)
        return g * self.params["w"]


class AttributeGradient(Forward):
    def build(self, shape, rng):
        self.w = rng.standard_normal(shape[-1])

    def forward(self, x):
        self.x = x
        return x * self.w

    def backward(self, g):
        self.dw = hostile((g * self.x).sum(0), self.kind)
        return g * self.w


class Stacked(Forward):
    stacked = True

    def forward(self, x):
        y = 2.0 * x
        return hostile(y, self.kind) if y.ndim == 3 else y


def scale_forward(x, w, kind):
    return x * w, (x, w, kind)


def scale_backward(g, cache):
    x, w, kind = cache
    return g * w, hostile((g * x).sum(0), kind)
'''


def hostile_spec(tmp_path, entry: str):
    layers = HOSTILE_LAYERS.format(kinds={name: expression for name, (expression, _) in HOSTILE.items()})
    return spec_of(tmp_path, entry, layers, extra="  - tanh\n")


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("where, entry, message", [
    ("forward", "{type: ./layers.py:Forward, kind: KIND}", "forward returned {what}, " + EXPECTED),
    ("dL/dx", "{type: ./layers.py:InputGradient, kind: KIND}", "backward returned dL/dx as {what}, " + EXPECTED),
    ("grads dict", "{type: ./layers.py:ParamGradient, kind: KIND}", "grads['w'] is {what}, " + EXPECTED),
    ("attribute", "{type: ./layers.py:AttributeGradient, kind: KIND}", "self.dw is {what}, " + EXPECTED),
    ("function pair", "{type: ./layers.py:scale, params: {w: [2]}, args: {kind: KIND}}",
     "scale_backward returned the gradient of w (value 2 of 2) as {what}, " + EXPECTED),
])
def test_what_is_no_array_of_real_floats_is_an_error_naming_the_layer(tmp_path, kind, where, entry, message):
    spec = hostile_spec(tmp_path, entry.replace("KIND", f"'{kind}'"))
    result, report = outcome(tmp_path, spec)
    assert result.exit_code == 1, result.output
    assert report["outcome"] == "error" and report["checks"] == []  # never a pass
    what = HOSTILE[kind][1]
    name = entry.split(",")[0].removeprefix("{type: ")
    assert report["error"].endswith(f"layer 0 ({name}): " + message.format(what=what)), report["error"]


@pytest.mark.parametrize("kind", ["complex", "bool"])
def test_a_stacked_forward_that_turns_complex_on_stacks_is_refused(tmp_path, kind):
    spec = hostile_spec(tmp_path, f"{{type: ./layers.py:Stacked, kind: '{kind}'}}")
    result, report = outcome(tmp_path, spec)
    assert report["outcome"] == "error"
    assert "declares stacked = True, but forward of a stack of 2 inputs" in report["error"]


def test_a_complex_backward_with_zero_imaginary_part_no_longer_passes(tmp_path):
    """The false pass of the issue: the values were right, their type was not."""
    spec = hostile_spec(tmp_path, "{type: ./layers.py:InputGradient, kind: complex}")
    result, report = outcome(tmp_path, spec)
    assert result.exit_code == 1
    assert report["outcome"] == "error" and "complex" in report["error"]


def test_an_integer_forward_output_is_refused_and_an_integer_gradient_compared(tmp_path):
    spec = spec_of(tmp_path, "{type: ./layers.py:Rounds}", '''
        import numpy as np


        class Rounds:
            def forward(self, x):
                return np.round(x).astype(int)

            def backward(self, g):
                return g
        ''')
    result, report = outcome(tmp_path, spec)
    assert report["error"].endswith("forward returned an array of integers (int64), " + EXPECTED)
    (tmp_path / "other").mkdir()  # a layer file is imported once per path and run
    spec = spec_of(tmp_path / "other", "{type: ./layers.py:Zero}", '''
        import numpy as np


        class Zero:
            def forward(self, x):
                return 0.0 * x

            def backward(self, g):
                return np.zeros(g.shape, dtype=int)
        ''')
    result, report = outcome(tmp_path, spec)
    assert report["outcome"] == "passed"  # dL/dx = 0 as integers: compared by value, and right


# --- --max-elements counts what is built --------------------------------------------------------

BIG = '''
import numpy as np


class Dict:
    def __init__(self, size):
        self.size = size

    def build(self, shape, rng):
        self.params, self.grads = {"W": np.zeros(self.size)}, {}

    def forward(self, x):
        return x + self.params["W"][0]

    def backward(self, g):
        self.grads["W"] = np.zeros(self.size)
        self.grads["W"][0] = g.sum()
        return g


class Attribute:
    def __init__(self, size):
        self.size = size

    def build(self, shape, rng):
        self.W = rng.standard_normal(self.size)

    def forward(self, x):
        return x + self.W[0]

    def backward(self, g):
        self.dW = np.zeros(self.size)
        self.dW[0] = g.sum()
        return g


def wide_forward(x, w):
    return x + w[0], None


def wide_backward(g, cache):
    dw = np.zeros(SIZES[0])
    dw[0] = g.sum()
    return g, dw


SIZES = []
'''


@pytest.mark.parametrize("style, entry", [
    ("params dict", "{type: ./layers.py:Dict, size: SIZE}"),
    ("attribute weights", "{type: ./layers.py:Attribute, size: SIZE}"),
    ("function pair", "{type: ./layers.py:wide, params: {w: [SIZE]}}"),
])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_max_elements_counts_every_parameter_once_built(tmp_path, style, entry, command):
    """2,000,000 parameters of a custom layer against a limit of 1,000: refused after build,
    before a single gradient; the limit is a bound, 994 of them pass it (with the 6 of the input)."""
    for size, code in ((2_000_000, 2), (994, 0), (995, 2)):
        layers = BIG.replace("SIZES = []", f"SIZES = [{size}]")
        (tmp_path / str(size)).mkdir()  # a layer file is imported once per path and run
        spec = spec_of(tmp_path / str(size), entry.replace("SIZE", str(size)), layers)
        result = invoke_cli(command, spec, "--max-elements", "1000", *(["-q"] if command == "run" else []))
        assert result.exit_code == code, (size, result.output)
        if code == 2:
            name = entry.split(",")[0].removeprefix("{type: ")
            assert result.output.splitlines()[0] == (
                f"{spec}:1: input: about {size + 6:,} scalars in the input and parameters "
                f"({(size + 6) * 8 / 1e9:.1f} GB, checked one by one); layer 0 ({name}) holds {size:,} of them; the "
                "limit is 1,000: raise it with --max-elements")
