"""What a model loader may load beyond skops' safe set: the caller's decision, never the artifact's.

A :class:`Trust` is the one policy every load path takes (:func:`load_model`,
:meth:`Registry.load_model`, the server, the loop, monitor, validate, card, export,
predict). It holds two decisions:

``pickle``
    joblib/pickle artifacts may be unpickled, which runs whatever code they carry.
    Only whoever runs the command can say so: ``--trust`` on the command line or
    ``SKLOOP_TRUST=1`` in the environment (:attr:`Settings.trust`).
``types``
    dotted type names the skops loader may instantiate on top of skloop's own
    :data:`TRUSTED_TYPES`: the project's ``registry.trusted_types`` in skloop.yaml and
    ``--trust-type`` on the command line.

Nothing recorded with a model widens it: not the artifact, not its format, not the
spec snapshot of the run that trained it. Those can be written by anyone who can
write to the store; the caller's flags, environment and skloop.yaml cannot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from skloop.core import Settings, Spec

__all__ = ["Trust"]


@dataclass(frozen=True)
class Trust:
    """The caller's trust in model artifacts.

    Parameters
    ----------
    pickle : bool, default=False
        Allow joblib/pickle artifacts (unpickling runs their code).
    types : iterable of str, default=()
        Extra dotted type names the skops loader may instantiate.

    Examples
    --------
    >>> Trust()
    Trust(pickle=False, types=())
    >>> Trust(types=["b.B", "a.A"]) | Trust(pickle=True, types=["a.A"])
    Trust(pickle=True, types=('a.A', 'b.B'))
    """

    pickle: bool = False
    types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "pickle", bool(self.pickle))
        object.__setattr__(self, "types", tuple(sorted({str(t) for t in self.types})))

    def __or__(self, other: Trust) -> Trust:
        """Both policies: pickle when either allows it, the union of the types."""
        return Trust(pickle=self.pickle or other.pickle, types=self.types + other.types)

    @classmethod
    def of(
        cls,
        settings: Settings | None = None,
        spec: Spec | None = None,
        *,
        pickle: bool = False,
        types: Iterable[str] = (),
    ) -> Trust:
        """The trust the caller gave: its settings (``SKLOOP_TRUST``), its spec, and flags.

        Parameters
        ----------
        settings : Settings, optional
            ``settings.trust`` allows pickle.
        spec : Spec, optional
            The caller's own spec (never a run's snapshot): ``registry.trusted_types``.
        pickle : bool
            ``--trust``.
        types : iterable of str
            ``--trust-type``.
        """
        return cls(
            pickle=pickle or bool(settings is not None and settings.trust),
            types=(*types, *(spec.registry.trusted_types if spec is not None else ())),
        )
