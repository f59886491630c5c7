"""The update methods a device can be built for: one module each in this
package, defining METHOD (base.Method, the host side of the method contract).

Registering a method is its name in REGISTERED. Each is checked against the
contract when the package loads; one that breaks it is refused with one line
naming the method and what is wrong. A method's image steps (Method.image_steps,
scripts under images/methods/<name>/) join the common ones (images.COMMON_STEPS).
"""
from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import HarnessError
from .. import images
from .base import GUEST_ADDR, Judge, Judgement, Method, RootLocation

REGISTERED = ("ab", "asymmetric", "inplace", "ostree", "rauc")

__all__ = ["GUEST_ADDR", "METHODS", "Judge", "Judgement", "Method", "RootLocation", "get", "images_key", "load",
           "served_roots"]


def load(names: tuple[str, ...] = REGISTERED) -> dict[str, Method]:
    methods: dict[str, Method] = {}
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        method = getattr(module, "METHOD", None)
        if not isinstance(method, Method):
            raise HarnessError(f"method '{name}': harness/methods/{name}.py defines no METHOD = Method(...)")
        methods[name] = method
    steps = {s.name for s in images.COMMON_STEPS} | {s.name for m in methods.values() for s in m.image_steps}
    for name, method in methods.items():
        problems = ([f"its METHOD is named '{method.name}'"] if method.name != name else []) \
            + method.problems(steps)
        if problems:
            raise HarnessError(f"method '{name}' breaks the method contract: {'; '.join(problems)}")
    return methods


METHODS: dict[str, Method] = load()


def served_roots() -> dict[str, Path]:
    """What the update server serves: /<method>/ from that method's payload step,
    for every method whose payloads are built."""
    roots = {}
    for m in METHODS.values():
        step = images.by_name(m.payload_steps[0])
        if images.built_key(step) is not None:
            roots[m.name] = step.out / m.name
    if not roots:
        raise HarnessError("no payloads are built: run './brownout build'")
    return roots


def images_key(name: str, client: str = "safe") -> dict[str, str | None]:
    """The keys of the image steps that decide what `name`'s update does, syscall by syscall
    (with a test fixture's own disk, where it has one)."""
    method = get(name)
    steps = method.record_steps + tuple(s for c, s in method.client_disks.items() if c == client)
    return {step: images.built_key(images.by_name(step)) for step in steps}


def images_builds(name: str, client: str = "safe") -> dict[str, str | None]:
    """The build ids of the same steps as images_key: a disk life holds their
    bytes, and a rebuild of the same inputs is not byte for byte the same."""
    return {step: images.build_id(images.by_name(step).out) for step in images_key(name, client)}


def get(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise HarnessError(f"unknown method '{name}'; known: {', '.join(METHODS)}") from None
