"""A custom loss named wrongly, refused, or misbehaving: one line that names the loss (and the user's
file:line where it raised), exit code 2 for a bad spec, outcome error (exit 1) for a loss that
misbehaves; never a traceback."""
from __future__ import annotations

import textwrap

import pytest

from conftest import invoke_cli, lines

BAD = '''
import numpy as np


def fine(x, y):
    return 0.5 * float(np.sum(x * x)), x.copy()


def raises(x, y):
    raise ValueError("boom")


def bare_float(x, y):
    return 0.5 * float(np.sum(x * x))


def three_values(x, y):
    return 1.0, x, x


def not_scalar(x, y):
    return np.sum(x * x, axis=1), x


def not_a_number(x, y):
    return "low", x


def nan_loss(x, y):
    return float("nan"), x


def dx_wrong_shape(x, y):
    return 1.0, x[:, :1]


def dx_transposed(x, y):
    return 1.0, x.T


def dx_none(x, y):
    return 1.0, None


def dx_nan(x, y):
    return 1.0, np.full_like(x, np.nan)


def changes(x, y):
    changes.calls = getattr(changes, "calls", 0) + 1
    return float(changes.calls), x


def one_argument(x):
    return 1.0, x


def needs_mask(x, y, mask):
    return 1.0, x


class NoBackward:
    def forward(self, y, targets):
        return 1.0


class NeedsWidth:
    def __init__(self, width):
        self.width = width

    def forward(self, y, targets):
        return 1.0

    def backward(self):
        return None


class ConstructorRaises:
    def __init__(self):
        raise RuntimeError("no loss today")

    def forward(self, y, targets):
        return 1.0

    def backward(self):
        return None


class ForwardRaises:
    def forward(self, y, targets):
        return {}["missing"]

    def backward(self):
        return y


class BackwardWrongShape:
    def forward(self, y, targets):
        self.y = y
        return 0.5 * float(np.sum(y * y))

    def backward(self):
        return self.y[0]


not_callable = 3
'''


def line_of(snippet: str) -> int:
    (number,) = [n for n, line in enumerate(BAD.lstrip("\n").splitlines(), 1) if snippet in line]
    return number


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """tmp_path with bad.py in it, as the current folder (messages name ./bad.py)."""
    (tmp_path / "bad.py").write_text(BAD.lstrip("\n"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def spec(folder, loss: str, extra: str = "") -> str:
    (folder / "spec.yaml").write_text(textwrap.dedent(f"""\
        seed: 0
        input: [4, 3]
        layers: [tanh]
        loss: {loss}
        {extra}"""), encoding="utf-8")
    return "spec.yaml"


def error_of(folder, loss: str) -> str:
    result = invoke_cli("run", spec(folder, loss), "-q")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (line,) = [line for line in lines(result.output) if line.startswith("spec.yaml: error: ")]
    return line.removeprefix("spec.yaml: error: ")


MISBEHAVING = {
    "raises": f"loss (./bad.py:raises): ./bad.py:{line_of('boom')}: raises raised ValueError: boom",
    "bare_float": "loss (./bad.py:bare_float): bare_float returned float, expected a tuple (loss, dx): a loss "
                  "function returns (loss, dx), cs231n's form; a loss class has forward(y, targets) and backward()",
    "three_values": "loss (./bad.py:three_values): three_values returned 3 values, expected a tuple (loss, dx): a "
                    "loss function returns (loss, dx), cs231n's form; a loss class has forward(y, targets) and "
                    "backward()",
    "not_scalar": "loss (./bad.py:not_scalar): not_scalar returned a loss of shape (4,), expected a scalar (the mean "
                  "or the sum over the rows)",
    "not_a_number": "loss (./bad.py:not_a_number): not_a_number returned str as the loss, expected a number",
    "nan_loss": "loss (./bad.py:nan_loss): nan_loss returned NaN as the loss, for a finite input",
    "dx_wrong_shape": "loss (./bad.py:dx_wrong_shape): dx_wrong_shape returned dx of shape (4, 1), expected (4, 3), "
                      "the shape of its input",
    "dx_transposed": "loss (./bad.py:dx_transposed): dx_transposed returned dx of shape (3, 4), expected (4, 3), "
                     "the shape of its input",
    "dx_none": "loss (./bad.py:dx_none): dx_none returned None as dx, expected dL/dx of shape (4, 3)",
    "dx_nan": "loss (./bad.py:dx_nan): dx_nan returned dx containing NaN",
    "changes": "loss (./bad.py:changes): gave different results for the same output (randomness, or state kept "
               "between calls?); its gradient cannot be checked",
    "ConstructorRaises": f"loss (./bad.py:ConstructorRaises): ./bad.py:{line_of('no loss today')}: constructor "
                         "raised RuntimeError: no loss today",
    "ForwardRaises": f"loss (./bad.py:ForwardRaises): ./bad.py:{line_of('missing')}: forward raised KeyError: "
                     "'missing'",
    "BackwardWrongShape": "loss (./bad.py:BackwardWrongShape): backward returned dx of shape (3,), expected (4, 3), "
                          "the shape of its input",
}


@pytest.mark.parametrize("name", sorted(MISBEHAVING))
def test_a_misbehaving_loss_is_an_error_naming_it(folder, name):
    assert error_of(folder, f"{{type: ./bad.py:{name}, targets: values}}") == MISBEHAVING[name]


def test_the_error_says_where_the_loss_sits(folder):
    """The JSON report's suspect_layer: one past the last layer, where the loss's row would be."""
    import json
    result = invoke_cli("run", spec(folder, "./bad.py:raises"), "--json", "r.json")
    assert result.exit_code == 1
    (entry,) = json.loads((folder / "r.json").read_text())["specs"]
    assert entry["outcome"] == "error" and entry["suspect_layer"] == 1


def test_validate_finds_a_misbehaving_loss(folder):
    result = invoke_cli("validate", spec(folder, "./bad.py:bare_float"))
    assert result.exit_code == 1
    assert lines(result.output)[0] == f"spec.yaml: error: {MISBEHAVING['bare_float']}"


DEFINED = ("fine, raises, bare_float, three_values, not_scalar, not_a_number, nan_loss, dx_wrong_shape, dx_transposed, "
           "dx_none, dx_nan, changes, one_argument, needs_mask, NoBackward, NeedsWidth, ConstructorRaises, "
           "ForwardRaises, BackwardWrongShape")
INVALID = {
    "./bad.py:one_argument":
        "spec.yaml:4: loss: one_argument (bad.py:{one_argument}) must take x (the output) and y (the targets) first "
        "(a loss function returns (loss, dx), cs231n's form; a loss class has forward(y, targets) and backward())",
    "./bad.py:needs_mask":
        "spec.yaml:4: loss: needs_mask (bad.py:{needs_mask}) takes 'mask', which is not in args: give it, args: "
        "{mask: ...}",
    "{type: ./bad.py:needs_mask, args: {mask: 1, masks: 2}}":
        "spec.yaml:4: loss: args: needs_mask (bad.py:{needs_mask}) takes no argument 'masks' (did you mean "
        "'mask'?); it takes x, y, mask",
    "{type: ./bad.py:needs_mask, args: {y: 1}}":
        "spec.yaml:4: loss: args: 'y' is one of the arguments gradcheck gives needs_mask (bad.py:{needs_mask}): x "
        "(the output) and y (the targets)",
    "./bad.py:NoBackward": "spec.yaml:4: loss: ./bad.py:NoBackward has no backward(): a loss function returns (loss, "
                           "dx), cs231n's form; a loss class has forward(y, targets) and backward()",
    "./bad.py:NeedsWidth": "spec.yaml:4: loss: a loss class is built without arguments, and ./bad.py:NeedsWidth "
                           "cannot be (missing a required argument: 'width'): give its arguments defaults",
    "./bad.py:not_callable": "spec.yaml:4: loss: ./bad.py:not_callable is int, neither a loss function nor a loss "
                             "class (a loss function returns (loss, dx), cs231n's form; a loss class has forward(y, "
                             "targets) and backward())",
    "./bad.py:softmax_los": f"spec.yaml:4: loss: ./bad.py has no loss function or class 'softmax_los'; it defines: "
                            f"{DEFINED}",
    "./bad.py:rises": f"spec.yaml:4: loss: ./bad.py has no loss function or class 'rises' (did you mean 'raises'?); "
                      f"it defines: {DEFINED}",
    "./missing.py:fine": "spec.yaml:4: loss: no such file: ./missing.py (looked for {folder}/missing.py)",
    "./bad.py:1fine": "spec.yaml:4: loss: custom loss type './bad.py:1fine' must look like package.module:name or "
                      "path/to/file.py:name",
    "{type: ./bad.py:fine, targets: labels}": "spec.yaml:4: loss.targets: expected one of classes, binary, values, "
                                              "got 'labels'",
    "{type: ./bad.py:fine, target: binary}": "spec.yaml:4: loss.target: unknown key for the custom loss ./bad.py:fine "
                                             "(did you mean 'targets'?); expected one of: type, targets, args",
    "{type: ./bad.py:fine, args: [1, 2]}": "spec.yaml:4: loss.args: expected a mapping, got a list",
    "{./bad.py:fine: {mask: 1}}": "spec.yaml:4: loss../bad.py:fine.mask: unknown key for the custom loss "
                                  "./bad.py:fine; expected one of: type, targets, args",
    "{type: mse, targets: binary}": "spec.yaml:4: loss.targets: unknown option for loss mse; targets is for custom "
                                    "losses; mse draws its own targets; mse takes no options",
}


@pytest.mark.parametrize("loss", list(INVALID))
def test_an_invalid_custom_loss_is_one_line_with_file_and_line(folder, loss):
    result = invoke_cli("run", spec(folder, loss), "-q")
    assert result.exit_code == 2, result.output
    expected = INVALID[loss].replace("{folder}", str(folder)).replace("{one_argument}", str(line_of("one_argument(")))
    assert lines(result.output)[0] == expected.replace("{needs_mask}", str(line_of("needs_mask(")))


def test_no_custom_refuses_a_custom_loss(folder):
    for command in ("run", "validate"):
        result = invoke_cli(command, spec(folder, "{type: ./bad.py:fine}"), "--no-custom", *["-q"][:command == "run"])
        assert result.exit_code == 2, result.output
        assert lines(result.output)[0] == ("spec.yaml:4: loss: custom loss ./bad.py:fine refused: --no-custom is set "
                                           "(custom losses are Python code and would run)")
    assert not (folder / "__pycache__").exists()


def test_a_correct_loss_beside_them_passes(folder):
    result = invoke_cli("run", spec(folder, "{type: ./bad.py:fine, targets: binary}"), "-q")
    assert result.exit_code == 0, result.output


def test_the_api_raises_one_line_for_an_invalid_loss():
    from gradcheck_cli import check_layer

    def needs_mask(x, y, mask):
        return 1.0, x

    with pytest.raises(ValueError) as caught:
        check_layer("tanh", input_shape=(4, 3), loss={"type": needs_mask, "targets": "labels"})
    assert str(caught.value) == "check_layer: loss.targets: expected one of classes, binary, values, got 'labels'"
