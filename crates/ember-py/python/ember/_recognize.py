"""Recognising the few one-line functions the engine can run itself.

A streaming word count is ``flatMap(lambda line: line.split(" "))``,
``map(lambda w: (w, 1))`` and ``reduceByKey(lambda a, b: a + b)``. Run in Python, those three
lambdas cost more than everything else together. When a function's bytecode is exactly one of
these shapes (a plain function: no defaults, no closure, no globals), the engine runs the same
operation on its own values instead:

* ``lambda x: x.split(SEP)`` with a non-empty ``str`` constant ``SEP``  -> ``("split", SEP)``
* ``lambda x: (x, CONST)`` with an int/float/str/bool/None constant     -> ``("pair_with", CONST)``
* ``lambda a, b: a + b``                                                 -> ``"add"``
* ``operator.add`` / ``operator.sub``                                    -> ``"add"`` / ``"sub"``
* ``def f(values, state): return sum(values) + (state or 0)`` (or the two terms swapped), the
  running count of ``updateStateByKey``                                   -> ``"sum"``

The meaning is kept exactly: a value the native operation does not cover (``split`` of a
non-``str``, ``+`` of mixed types) is handed to the original Python function, so errors and
results are Python's own. Anything else simply runs in Python.
"""

from __future__ import annotations

import builtins
import dis
import operator
import types

# Instructions that carry no meaning for these shapes, across CPython 3.11-3.14.
_NOISE = {"RESUME", "CACHE", "PRECALL", "NOP", "EXTENDED_ARG", "NOT_TAKEN"}
_CONSTANT_TYPES = (int, float, str, bool, type(None))


def _plain(f, nargs):
    if not isinstance(f, types.FunctionType):
        return None
    code = f.__code__
    if (code.co_argcount != nargs or code.co_kwonlyargcount or code.co_freevars
            or code.co_cellvars or f.__defaults__ or f.__kwdefaults__
            or code.co_flags & (inspect_varargs | inspect_varkw)):
        return None
    ops = [(i.opname, i.argval) for i in dis.get_instructions(f) if i.opname not in _NOISE]
    return code.co_varnames[:nargs], ops


inspect_varargs, inspect_varkw = 0x04, 0x08


def _is_load(op, name):
    return op[0].startswith("LOAD_FAST") and op[1] == name


def unary(f):
    """``("split", sep)``, ``("pair_with", const)`` or None."""
    plain = _plain(f, 1)
    if plain is None:
        return None
    (x,), ops = plain
    if (len(ops) == 5 and _is_load(ops[0], x) and ops[1][0] in ("LOAD_METHOD", "LOAD_ATTR")
            and ops[1][1] == "split" and ops[2][0] == "LOAD_CONST" and isinstance(ops[2][1], str)
            and ops[2][1] and ops[3] == ("CALL", 1) and ops[4][0] == "RETURN_VALUE"):
        return ("split", ops[2][1])
    if (len(ops) == 4 and _is_load(ops[0], x) and ops[1][0] == "LOAD_CONST"
            and type(ops[1][1]) in _CONSTANT_TYPES and ops[2] == ("BUILD_TUPLE", 2)
            and ops[3][0] == "RETURN_VALUE"):
        return ("pair_with", ops[1][1])
    return None


def binary(f):
    """``"add"``, ``"sub"`` or None."""
    if f is operator.add:
        return "add"
    if f is operator.sub:
        return "sub"
    plain = _plain(f, 2)
    if plain is None:
        return None
    (a, b), ops = plain
    if (len(ops) == 4 and _is_load(ops[0], a) and _is_load(ops[1], b)
            and ops[3][0] == "RETURN_VALUE"
            and (ops[2] == ("BINARY_ADD", None) or ops[2][0] == "BINARY_OP")):
        # BINARY_OP's argument is the operator; 0 is `+` (dis shows it as argrepr '+').
        instr = [i for i in dis.get_instructions(f) if i.opname not in _NOISE][2]
        if instr.opname == "BINARY_ADD" or instr.argrepr == "+":
            return "add"
        if instr.argrepr == "-":
            return "sub"
    return None


# The update functions recognised by `update`, compiled by this interpreter: a user's function
# of the same shape has the same bytecode, whatever its parameters are called, in every CPython
# version, so no instruction list has to be spelled out per version.
def _sum_then_state(values, state):
    return sum(values) + (state or 0)


def _state_then_sum(values, state):
    return (state or 0) + sum(values)


_UPDATE_TEMPLATES = (_sum_then_state, _state_then_sum)


def update(f):
    """``"sum"`` when ``f(values, state)`` is ``sum(values) + (state or 0)`` (either order) with
    the builtin ``sum``, else None. The engine then keeps a running sum of ``int`` values itself
    and hands Python only keys whose values or state are not all ``int`` (or overflow 64 bits)."""
    if _plain(f, 2) is None:
        return None
    code = f.__code__
    if f.__globals__.get("sum", builtins.sum) is not builtins.sum:
        return None
    for template in _UPDATE_TEMPLATES:
        t = template.__code__
        if (code.co_code == t.co_code and code.co_names == t.co_names
                and code.co_consts == t.co_consts
                and [type(c) for c in code.co_consts] == [type(c) for c in t.co_consts]):
            return "sum"
    return None
