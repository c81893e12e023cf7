"""Independent verification of the mutation suite (does not use gradcheck_cli).

For every Case of cases.py it builds the network itself and checks, in float64:
- layer-local: each layer's backward(G) and param grads against central differences of
  <G, f(x)> for a random G, at the input that layer sees in the network;
- network-level: backprop dL/dX and every param grad against central differences of L.
A correct case must match everywhere (norm-wise relative error <= 1e-6). A buggy case must have
exactly the declared bug_tensors of bug_layer off (> 1e-5, and >= 1e-4 relative to the true
gradient) while everything else matches; at network level the bug must show up where it should.
float32 cases are also run in float32: dtypes must be kept, and a float32 central difference
must pass correct cases (rel <= 1e-2) and clearly flag buggy ones (rel >= 0.1).
Kinks: at an exact kink either one-sided derivative is accepted; random inputs to relu/abs/
maxout/leaky relu must stay >= 1e-2 away from their kink.

Run: python tests/mutation/selfcheck.py [-v] [name-substring ...]
"""
import importlib.util
import inspect
import math
import re
import sys
from pathlib import Path

import numpy as np

sys.dont_write_bytecode = True      # leave no __pycache__ next to the suite
sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases as cases_mod  # noqa: E402

H64 = 1e-5
H32 = float(np.finfo(np.float32).eps) ** (1.0 / 3.0)
MATCH_RTOL, OFF_RTOL, ATOL = 1e-6, 1e-5, 1e-8
BUG_MIN = 0.999e-4            # a planted bug changes its tensor by >= 1e-4 relative (noise margin)
F32_OK, F32_BUG = 1e-2, 0.1
KINK_MARGIN = 5e-2

# ----------------------------------------------------------------------------------------------
# reference built-in layers
# ----------------------------------------------------------------------------------------------


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_erf = np.vectorize(math.erf, otypes=[float])


class RefLinear:
    def __init__(self, out, bias=True):
        self.out, self.bias = out, bias
        self.params, self.grads = {}, {}

    def build(self, input_shape, rng):
        m = input_shape[-1]
        self.params["W"] = rng.standard_normal((m, self.out)) / math.sqrt(m)
        if self.bias:
            self.params["b"] = 0.1 * rng.standard_normal(self.out)

    def forward(self, x):
        self.x = x
        y = x @ self.params["W"]
        return y + self.params["b"] if self.bias else y

    def backward(self, g):
        self.grads["W"] = self.x.T @ g
        if self.bias:
            self.grads["b"] = g.sum(axis=0)
        return g @ self.params["W"].T


class RefElementwise:
    def __init__(self, name, f, df, **opts):
        self.name, self.f, self.df, self.opts = name, f, df, opts
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.x = x
        return self.f(x, **self.opts)

    def backward(self, g):
        return g * self.df(self.x, **self.opts)


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(x.dtype))


def _dgelu(x):
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)).astype(x.dtype))
    return cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


ELEMENTWISE = {
    "sigmoid": (lambda x: _sig(x), lambda x: _sig(x) * (1.0 - _sig(x))),
    "tanh": (np.tanh, lambda x: 1.0 - np.tanh(x) ** 2),
    "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(x.dtype)),
    "leaky_relu": (lambda x, slope=0.01: np.where(x > 0, x, slope * x),
                   lambda x, slope=0.01: np.where(x > 0, 1.0, slope).astype(x.dtype)),
    "elu": (lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))),
            lambda x, alpha=1.0: np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0))).astype(x.dtype)),
    "softplus": (lambda x: np.logaddexp(0.0, x), lambda x: _sig(x)),
    "gelu": (_gelu, _dgelu),
    "silu": (lambda x: x * _sig(x), lambda x: _sig(x) * (1.0 + x * (1.0 - _sig(x)))),
}


class RefSoftmax:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.y = _softmax(x)
        return self.y

    def backward(self, g):
        return self.y * (g - (g * self.y).sum(axis=-1, keepdims=True))


class RefLogSoftmax:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        z = x - x.max(axis=-1, keepdims=True)
        self.p = _softmax(x)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    def backward(self, g):
        return g - self.p * g.sum(axis=-1, keepdims=True)


class RefResidual:
    """y = x + f(x), f = the sub-layers in sequence; params/grads are named "j.name"."""

    def __init__(self, layers):
        self.subs = [make_layer(e) for e in layers]

    def build(self, input_shape, rng):
        self.sub_rngs = [np.random.default_rng(int(rng.integers(2 ** 62))) for _ in self.subs]
        self.built = [False] * len(self.subs)

    @property
    def params(self):
        return {f"{j}.{k}": v for j, s in enumerate(self.subs) for k, v in layer_params(s).items()}

    @property
    def grads(self):
        return {f"{j}.{k}": v for j, s in enumerate(self.subs) for k, v in (getattr(s, "grads", None) or {}).items()}

    def forward(self, x):
        h = x
        for j, s in enumerate(self.subs):
            if not self.built[j]:
                build_layer(s, h, self.sub_rngs[j])
                self.built[j] = True
            h = s.forward(h)
        return x + h

    def backward(self, g):
        gh = g
        for s in reversed(self.subs):
            gh = s.backward(gh)
        return g + gh


_MODULES = {}


def load_module(path):
    path = str(path)
    if path not in _MODULES:
        spec = importlib.util.spec_from_file_location(f"mutation_layers_{len(_MODULES)}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _MODULES[path] = mod
    return _MODULES[path]


def load_class(spec_type):
    path, cls = spec_type.rsplit(":", 1)
    return getattr(load_module(path), cls)


class RefPair:
    """A cs231n function pair: NAME_forward(x, *params, **args) -> (out, cache) and
    NAME_backward(dout, cache) -> dx, or (dx, *param grads in forward's order). Parameters are
    drawn at build from their spec: a shape (standard normal) or {shape, init, scale}."""

    def __init__(self, name, forward, backward, params=None, args=None):
        self.name, self.fwd, self.bwd = name, forward, backward
        self.spec, self.args = dict(params or {}), dict(args or {})
        self.order = [p for p in list(inspect.signature(forward).parameters)[1:] if p in self.spec]
        self.params, self.grads = {}, {}

    def build(self, input_shape, rng):
        for name in self.order:
            spec = self.spec[name] if isinstance(self.spec[name], dict) else {"shape": self.spec[name]}
            shape, init = tuple(spec["shape"]), spec.get("init", "normal")
            self.params[name] = (np.zeros(shape) if init == "zeros" else np.ones(shape) if init == "ones"
                                 else spec.get("scale", 1.0) * rng.standard_normal(shape))

    def forward(self, x):
        out, self.cache = self.fwd(x, *[self.params[n] for n in self.order], **self.args)
        return out

    def backward(self, g):
        result = self.bwd(g, self.cache)
        if not self.order:
            return result
        self.grads = dict(zip(self.order, result[1:]))
        return result[0]


class RefAttributes:
    """A class layer without a params dict: numpy-ml's `parameters`/`gradients` dicts (gradients
    zeroed before every backward, which adds into them), or weights as attributes with their
    gradient beside them (W -> dW): the float arrays it holds right after build."""

    def __init__(self, layer):
        self.layer, self.names = layer, []

    def build(self, input_shape, rng):
        if hasattr(self.layer, "build"):
            self.layer.build(input_shape, rng)
        if not isinstance(getattr(self.layer, "parameters", None), dict):
            self.names = [k for k, v in vars(self.layer).items()
                          if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)]

    def cast(self, dtype):
        if self.names:
            for k in self.names:
                setattr(self.layer, k, np.array(getattr(self.layer, k), dtype=dtype))
        else:
            for table in (self.layer.parameters, self.layer.gradients):
                for k in table:
                    table[k] = np.array(table[k], dtype=dtype)

    @property
    def params(self):
        if self.names:
            return {k: getattr(self.layer, k) for k in self.names}
        return self.layer.parameters

    @property
    def grads(self):
        if self.names:
            return {k: getattr(self.layer, f"d{k}", None) for k in self.names}
        return self.layer.gradients

    def forward(self, x):
        return self.layer.forward(x)

    def backward(self, g):
        if not self.names:
            for v in self.layer.gradients.values():
                v[...] = 0.0
        return self.layer.backward(g)


def make_custom(spec_type, opts):
    path, name = spec_type.rsplit(":", 1)
    mod = load_module(path)
    if not hasattr(mod, name) and hasattr(mod, f"{name}_forward"):
        return RefPair(name, getattr(mod, f"{name}_forward"), getattr(mod, f"{name}_backward"),
                       opts.pop("params", None), opts.pop("args", None))
    layer = getattr(mod, name)(**opts)
    return layer if isinstance(getattr(layer, "params", None), dict) else RefAttributes(layer)


def make_layer(entry):
    if isinstance(entry, str):
        entry = {"type": entry}
    opts = {k: v for k, v in entry.items() if k != "type"}
    t = entry["type"]
    if ":" in t:
        return make_custom(t, opts)
    if t == "linear":
        return RefLinear(**opts)
    if t in ELEMENTWISE:
        f, df = ELEMENTWISE[t]
        return RefElementwise(t, f, df, **opts)
    if t == "softmax":
        return RefSoftmax()
    if t == "log_softmax":
        return RefLogSoftmax()
    if t == "residual":
        return RefResidual(**opts)
    raise ValueError(f"unknown layer type {t!r}")


def layer_params(layer):
    return getattr(layer, "params", None) or {}


def build_layer(layer, x, rng):
    """Build once, then cast the new params to the dtype of the input (what the tool does)."""
    if hasattr(layer, "build"):
        layer.build(x.shape, rng)
    if hasattr(layer, "cast"):
        layer.cast(x.dtype)
        return
    p = getattr(layer, "params", None)
    if isinstance(p, dict):
        for k in list(p):
            p[k] = np.array(p[k], dtype=x.dtype)


def layer_name(entry):
    if isinstance(entry, str):
        return entry
    t = entry["type"]
    return t.rsplit(":", 1)[1] if ":" in t else t


# ----------------------------------------------------------------------------------------------
# network
# ----------------------------------------------------------------------------------------------


class Net:
    def __init__(self, case, dtype):
        self.case, self.dtype = case, np.dtype(dtype)
        self.layers = [make_layer(e) for e in case.layers]
        self.rngs = [np.random.default_rng([case.seed, i]) for i in range(len(self.layers))]
        self.built = [False] * len(self.layers)
        data = np.random.default_rng(case.seed)
        self.X = data.standard_normal(case.input).astype(self.dtype)
        y = self.forward(self.X)
        n = y.shape[0]
        if case.loss == "cross_entropy":
            self.target = data.integers(0, y.shape[-1], n)
        elif case.loss == "bce_with_logits":
            self.target = data.integers(0, 2, y.shape).astype(self.dtype)
        else:   # mse targets / dot weights R
            self.target = data.standard_normal(y.shape).astype(self.dtype)

    def forward(self, x):
        self.inputs = []
        for i, layer in enumerate(self.layers):
            if not self.built[i]:
                build_layer(layer, x, self.rngs[i])
                self.built[i] = True
            self.inputs.append(x)
            x = layer.forward(x)
        self.output = x
        return x

    def loss(self, y):
        """Returns (L, dL/dy)."""
        t, kind = self.target, self.case.loss
        if kind == "mse":
            return np.mean((y - t) ** 2), 2.0 * (y - t) / y.size
        if kind == "dot":
            return np.sum(t * y), t.copy()
        if kind == "cross_entropy":
            n = y.shape[0]
            z = y - y.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            g = np.exp(logp)
            g[np.arange(n), t] -= 1.0
            return -np.mean(logp[np.arange(n), t]), g / n
        if kind == "bce_with_logits":
            return np.mean(np.logaddexp(0.0, y) - t * y), (_sig(y) - t) / y.size
        raise ValueError(kind)

    def tensors(self):
        """[(name, array)] for X and every param, the arrays the checker perturbs in place."""
        out = [("X", self.X)]
        for i, layer in enumerate(self.layers):
            out += [(f"{i}.{k}", v) for k, v in layer_params(layer).items()]
        return out

    def backprop(self):
        """Returns ({name: analytic grad}, [per-layer dx]) at the current params."""
        y = self.forward(self.X)
        _, g = self.loss(y)
        dxs = [None] * len(self.layers)
        for i in reversed(range(len(self.layers))):
            g = self.layers[i].backward(g)
            dxs[i] = g
        grads = {"X": g}
        for i, layer in enumerate(self.layers):
            lg = getattr(layer, "grads", None) or {}
            for k in layer_params(layer):
                grads[f"{i}.{k}"] = lg.get(k)
        return grads, dxs


# ----------------------------------------------------------------------------------------------
# numerics
# ----------------------------------------------------------------------------------------------


def numeric_grad(f, arr, analytic, h, kinks=None):
    """Central differences of the scalar f() w.r.t. arr (perturbed in place).

    With a kinks list: where the central difference disagrees with `analytic` and f has a kink
    there (the jump between the one-sided derivatives does not shrink with h, as it would for a
    smooth f), the one-sided derivative closer to the analytic value is used and idx recorded."""
    num = np.zeros(arr.shape, dtype=np.float64)

    def at(idx, old, d):
        arr[idx] = old + d
        v = float(f())
        arr[idx] = old
        return v

    for idx in np.ndindex(arr.shape):
        old = arr[idx].copy()
        fp, fm = at(idx, old, h), at(idx, old, -h)
        c = num[idx] = (fp - fm) / (2 * h)
        if kinks is None or analytic is None or np.shape(analytic) != arr.shape:
            continue
        a = float(analytic[idx])
        if abs(a - c) <= 1e-4 * max(abs(a), abs(c)) + 1e-7:
            continue
        f0, h2 = float(f()), h / 16
        fwd, bwd = (fp - f0) / h, (f0 - fm) / h
        jump2 = (at(idx, old, h2) - f0) / h2 - (f0 - at(idx, old, -h2)) / h2
        if abs(jump2) > 1e-6 and abs(jump2) > 0.5 * abs(fwd - bwd):
            num[idx] = fwd if abs(fwd - a) < abs(bwd - a) else bwd
            kinks.append(idx)
    return num


def compare(a, n):
    """(rel, rel_to_true, ok, off) with norm-wise errors; a shape mismatch counts as off."""
    if a is None or np.shape(a) != n.shape:
        return math.inf, math.inf, False, True
    a = np.asarray(a, dtype=np.float64)
    diff = float(np.linalg.norm(a - n))
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(n)))
    rel = diff / scale if scale > 0 else 0.0
    rel_true = diff / float(np.linalg.norm(n)) if np.any(n) else (math.inf if diff > 0 else 0.0)
    return rel, rel_true, diff <= MATCH_RTOL * scale + ATOL, diff > OFF_RTOL * scale + ATOL


def local_check(layer, x, rng):
    """Layer-local check in float64: {tensor: (rel, rel_true, ok, off)}, kink count."""
    x = np.array(x, dtype=np.float64)
    y = layer.forward(x)
    G = rng.standard_normal(y.shape)
    dx = layer.backward(G)
    dx = None if dx is None else np.array(dx, dtype=np.float64)
    grads = {k: (None if v is None else np.array(v, dtype=np.float64))
             for k, v in (getattr(layer, "grads", None) or {}).items()}
    f = lambda: np.sum(G * layer.forward(x))   # noqa: E731
    kinks, res = [], {}
    res["input"] = compare(dx, numeric_grad(f, x, dx, H64, kinks))
    for k, p in layer_params(layer).items():
        res[k] = compare(grads.get(k), numeric_grad(f, p, grads.get(k), H64, kinks))
    return res, len(kinks)


def network_check(net, h, allow_kinks=True):
    grads, _ = net.backprop()
    grads = {k: (None if v is None else np.array(v, dtype=np.float64)) for k, v in grads.items()}
    f = lambda: net.loss(net.forward(net.X))[0]   # noqa: E731
    kinks, res = ([] if allow_kinks else None), {}
    for name, arr in net.tensors():
        res[name] = compare(grads[name], numeric_grad(f, arr, grads[name], h, kinks))
    return res, len(kinks or [])


def kink_margin(layer, x):
    """Distance of the layer's input from its kinks, ignoring exact zeros (designed kinks)."""
    names = {c.__name__ for c in type(layer).__mro__}
    if isinstance(layer, RefElementwise) and layer.name in ("relu", "leaky_relu"):
        names.add("ReLU")
    if isinstance(layer, RefPair) and layer.name.startswith("relu"):
        names.add("ReLU")
    if isinstance(layer, RefAttributes):
        names |= {c.__name__ for c in type(layer.layer).__mro__}
    if names & {"ReLU", "LeakyReLU", "Abs"}:
        v = np.abs(x[x != 0])
        return float(v.min()) if v.size else math.inf
    if "Maxout" in names:
        g = np.sort(x.reshape(x.shape[0], -1, layer.k), axis=-1)
        return float((g[..., -1] - g[..., -2]).min())
    return math.inf


def check_dtypes(net):
    """float32 run: every output, dx and grad must stay float32."""
    bad = []
    y = net.forward(net.X)
    for i in range(len(net.layers)):
        out = y if i == len(net.layers) - 1 else net.inputs[i + 1]
        if out.dtype != net.dtype:
            bad.append(f"layer {i} output {out.dtype}")
    _, dxs = net.backprop()
    for i, (layer, dx) in enumerate(zip(net.layers, dxs)):
        if np.asarray(dx).dtype != net.dtype:
            bad.append(f"layer {i} dx {np.asarray(dx).dtype}")
        for k, v in (getattr(layer, "grads", None) or {}).items():
            if np.asarray(v).dtype != net.dtype:
                bad.append(f"layer {i} grad {k} {np.asarray(v).dtype}")
    return bad


# ----------------------------------------------------------------------------------------------
# one case
# ----------------------------------------------------------------------------------------------


def fmt(x):
    return f"{x:.1e}"


def check_case(case, verbose=False):
    """Returns (as_declared, summary, problems)."""
    global H64, MATCH_RTOL, OFF_RTOL
    if not case.name.startswith("f32_forced"):
        return _check_case(case, verbose)
    # Layers that compute in float32 whatever they get: float32 steps and tolerances throughout.
    saved = H64, MATCH_RTOL, OFF_RTOL
    H64, MATCH_RTOL, OFF_RTOL = H32, F32_OK, F32_BUG
    try:
        return _check_case(case, verbose)
    finally:
        H64, MATCH_RTOL, OFF_RTOL = saved


def _check_case(case, verbose=False):
    problems, notes = [], []
    bug = case.bug_layer
    net = Net(case, np.float64)

    # kink margins at the network's own inputs
    for i, (layer, x) in enumerate(zip(net.layers, net.inputs)):
        m = kink_margin(layer, x)
        if m < math.inf:
            notes.append(f"layer {i} kink margin {fmt(m)}")
        if m < KINK_MARGIN:
            problems.append(f"layer {i} input within {fmt(m)} of a kink")

    # layer-local checks
    bug_rels, worst_other = [], 0.0
    for i, (layer, x) in enumerate(zip(net.layers, net.inputs)):
        res, nk = local_check(layer, x, np.random.default_rng([case.seed, 999, i]))
        if nk:
            notes.append(f"layer {i}: {nk} exact-kink elem(s), one-sided")
        for t, (rel, rel_true, ok, off) in res.items():
            declared_bad = i == bug and t in case.bug_tensors
            if verbose:
                print(f"    local  layer {i} {layer_name(case.layers[i]):<26} {t:<8} rel {fmt(rel)}"
                      f"{'  (bug)' if declared_bad else ''}")
            if declared_bad:
                bug_rels.append(rel_true)
                if not off:
                    problems.append(f"local layer {i} {t}: declared wrong but rel {fmt(rel)}")
                elif rel_true < BUG_MIN:
                    problems.append(f"local layer {i} {t}: bug only {fmt(rel_true)} < 1e-4")
            else:
                if ok and rel > MATCH_RTOL:
                    notes.append(f"layer {i} {t}: zero gradient")
                else:
                    worst_other = max(worst_other, rel)
                if not ok:
                    problems.append(f"local layer {i} {t}: rel {fmt(rel)} but declared correct")
        if bug == i:
            missing = set(case.bug_tensors) - set(res)
            if missing:
                problems.append(f"bug layer {i} has no tensor(s) {sorted(missing)}")

    # network-level check: where the bug must show up
    res, nk = network_check(Net(case, np.float64), H64)
    net_worst, net_bug = 0.0, []
    for name, (rel, rel_true, ok, off) in res.items():
        i = -1 if name == "X" else int(name.split(".", 1)[0])
        pname = None if name == "X" else name.split(".", 1)[1]
        if bug is None:
            must = "match"
        elif i == bug:
            must = "off" if pname in case.bug_tensors else "match"
        elif i < bug:   # upstream of the bug (or X): only reached through the bug layer's dx
            must = "off" if (name == "X" and "input" in case.bug_tensors) else \
                   ("any" if "input" in case.bug_tensors else "match")
        else:
            must = "match"
        if verbose:
            print(f"    net    {name:<12} rel {fmt(rel)}  ({must})")
        if must == "match":
            if ok and rel > MATCH_RTOL:
                notes.append(f"network {name}: zero gradient (|a|, |n| < {ATOL:.0e})")
            else:
                net_worst = max(net_worst, rel)
            if not ok:
                problems.append(f"network {name}: rel {fmt(rel)} but should match")
        elif must == "off":
            net_bug.append(rel_true)
            if not off or rel_true < BUG_MIN:
                problems.append(f"network {name}: rel {fmt(rel_true)} but the bug should show here")

    # float32 run
    if case.dtype == "float32":
        net32 = Net(case, np.float32)
        bad = check_dtypes(net32)
        if bad:
            problems.append("dtype not kept: " + ", ".join(bad[:4]))
        res32, _ = network_check(net32, H32, allow_kinks=False)
        ok32 = [r[0] for n, r in res32.items() if n not in _bug_net_names(case, res32)]
        bug32 = [r[1] for n, r in res32.items() if n in _bug_net_names(case, res32)]
        if ok32 and max(ok32) > F32_OK:
            problems.append(f"float32 central difference: correct tensor rel {fmt(max(ok32))} > {F32_OK}")
        if bug is not None and (not bug32 or min(bug32) < F32_BUG):
            problems.append(f"float32 central difference: bug rel only {fmt(min(bug32 or [0]))}")
        notes.append(f"f32 net rel: correct<={fmt(max(ok32 or [0]))}"
                     + (f" bug>={fmt(min(bug32))}" if bug32 else ""))

    if bug is None:
        summary = f"max rel local {fmt(worst_other)}, network {fmt(net_worst)}"
    else:
        summary = (f"layer {bug} {layer_name(case.layers[bug])} {'/'.join(sorted(case.bug_tensors))} "
                   f"off by >= {fmt(min(bug_rels or [0]))} (network >= {fmt(min(net_bug or [0]))}); "
                   f"rest <= {fmt(max(worst_other, net_worst))}")
    if notes:
        summary += "; " + "; ".join(notes)
    return not problems, summary, problems


def _bug_net_names(case, res):
    """Network tensors where a bug must show: X for an input bug, the bug layer's wrong params."""
    if case.bug_layer is None:
        return set()
    names = {f"{case.bug_layer}.{t}" for t in case.bug_tensors if t != "input"}
    if "input" in case.bug_tensors:
        names.add("X")
        names |= {n for n in res if n != "X" and int(n.split(".", 1)[0]) < case.bug_layer}
    return names


# ----------------------------------------------------------------------------------------------
# suite-level checks
# ----------------------------------------------------------------------------------------------


def suite_checks(correct, buggy):
    problems = []
    all_cases = correct + buggy
    names = [c.name for c in all_cases]
    for n in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"duplicate case name {n}")
    for c in all_cases:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", c.name):
            problems.append(f"{c.name}: not snake_case")
        if c.dtype not in ("float64", "float32"):
            problems.append(f"{c.name}: dtype {c.dtype}")
    mod = load_module(cases_mod.LAYERS_FILE)
    classes = {n: c for n, c in inspect.getmembers(mod, inspect.isclass) if c.__module__ == mod.__name__}
    is_bug = {n: (c.__doc__ or "").startswith("BUG") for n, c in classes.items()}
    # function pairs: NAME_forward beside NAME_backward; a planted bug is marked on backward
    for n, f in inspect.getmembers(mod, inspect.isfunction):
        pair = n.removesuffix("_forward")
        if n.endswith("_forward") and f.__module__ == mod.__name__ and hasattr(mod, f"{pair}_backward"):
            is_bug[pair] = (getattr(mod, f"{pair}_backward").__doc__ or "").startswith("BUG")
    used_bug = set()
    for c in correct:
        if c.bug_layer is not None or c.bug_tensors:
            problems.append(f"{c.name}: correct case with a bug declaration")
        for e in c.layers:
            if is_bug.get(layer_name(e)):
                problems.append(f"{c.name}: correct case uses buggy {layer_name(e)}")
    for c in buggy:
        if c.bug_layer is None or not (0 <= c.bug_layer < len(c.layers)) or not c.bug_tensors:
            problems.append(f"{c.name}: bad bug declaration")
            continue
        bugs_here = [i for i, e in enumerate(c.layers) if is_bug.get(layer_name(e))]
        if bugs_here != [c.bug_layer]:
            problems.append(f"{c.name}: buggy layers at {bugs_here}, declared {c.bug_layer}")
        used_bug.add(layer_name(c.layers[c.bug_layer]))
    unused = sorted(n for n, b in is_bug.items() if b and n not in used_bug)
    if unused:
        problems.append(f"buggy layers without a case: {unused}")
    n_correct = sum(1 for n, b in is_bug.items() if not b and n != "Layer")
    n_buggy = sum(is_bug.values())
    return problems, n_correct, n_buggy


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    verbose = "-v" in argv
    filters = [a for a in argv if a != "-v"]
    correct, buggy = list(cases_mod.CORRECT), list(cases_mod.BUGGY)
    problems, n_correct, n_buggy = suite_checks(correct, buggy)
    for p in problems:
        print(f"SUITE {p}")
    n32 = sum(c.dtype == "float32" for c in correct + buggy)
    print(f"layers: {n_correct} correct, {n_buggy} buggy; cases: {len(correct)} correct, "
          f"{len(buggy)} buggy, {n32} float32 "
          f"({sum(c.dtype == 'float32' for c in correct)} correct, {sum(c.dtype == 'float32' for c in buggy)} buggy)")
    selected = [c for c in correct + buggy if not filters or any(f in c.name for f in filters)]
    n_ok = 0
    for case in selected:
        if verbose:
            print(f"  {case.name}")
        try:
            ok, summary, probs = check_case(case, verbose)
        except Exception as e:   # a crash is a case not as declared
            ok, summary, probs = False, "crashed", [f"{type(e).__name__}: {e}"]
        n_ok += ok
        print(f"{'OK  ' if ok else 'FAIL'} {case.name:<42} {summary}")
        for p in probs:
            print(f"       - {p}")
    print(f"selfcheck: {n_ok}/{len(selected)} cases as declared"
          + (f" ({len(problems)} suite problem(s))" if problems else ""))
    return 0 if n_ok == len(selected) and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
