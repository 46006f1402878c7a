"""Optional family capabilities, each owned by the consumer that needs it.

A *capability* is a set of optional hooks a family may define for one consumer
(the EM, the mixture reduction, the theory module). The consumer declares it
here with :func:`declare_capability`, documents what each hook means, and
supplies a generic fallback for a family that does not define it; it reaches a
family's hook only through :meth:`Capability.find`. The table of
``docs/family_contract.md`` is tested against :data:`CAPABILITIES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = ["CAPABILITIES", "Capability", "Hook", "declare_capability"]


@dataclass(frozen=True)
class Hook:
    """One optional hook of a capability.

    Attributes
    ----------
    signature : str
        How the family writes it, e.g. ``"_kl_frame(params, mass) -> (to, back)"``.
    meaning : str
        What it computes.
    fallback : str
        What the consumer does when the family does not define it.
    """

    signature: str
    meaning: str
    fallback: str

    @property
    def name(self) -> str:
        """The attribute a family defines (the signature up to its first parenthesis or colon)."""
        return self.signature.split("(", 1)[0].split(":", 1)[0].strip()


@dataclass(frozen=True)
class Capability:
    """Optional hooks that one consumer (``owner``, a module path) calls when a family defines them."""

    name: str
    owner: str
    hooks: tuple[Hook, ...]

    @property
    def hook_names(self) -> tuple[str, ...]:
        """Names of the hooks, in declaration order."""
        return tuple(h.name for h in self.hooks)

    def find(self, family: Any, name: str) -> Callable[..., Any] | None:
        """The family's own ``name`` hook (a bound method or a value), or ``None`` when it does not define one."""
        if name not in self.hook_names:
            raise KeyError(f"{name!r} is not a hook of the {self.name!r} capability; hooks: {list(self.hook_names)}")
        return getattr(family, name, None)

    def provided(self, family: Any) -> dict[str, bool]:
        """Which hooks of this capability ``family`` defines."""
        return {name: getattr(family, name, None) is not None for name in self.hook_names}


_CAPABILITIES: dict[str, Capability] = {}
#: Read-only view of the declared capabilities, by name.
CAPABILITIES: Mapping[str, Capability] = MappingProxyType(_CAPABILITIES)


def declare_capability(name: str, owner: str, hooks: tuple[Hook, ...]) -> Capability:
    """Declare (once per consumer module) the optional hooks a consumer calls, and return the :class:`Capability`."""
    cap = Capability(name, owner, tuple(hooks))
    if name in _CAPABILITIES and _CAPABILITIES[name] != cap:
        raise ValueError(f"capability {name!r} is already declared by {_CAPABILITIES[name].owner}")
    _CAPABILITIES[name] = cap
    return cap
