"""Whose faces a redaction hides: ``all``, ``only:NAME,...`` or ``except:NAME,...``.

Names are people of the face gallery (local backend) or ``ExternalImageId`` values of the
Rekognition collection. A face that could not be named is *not* one of the named people: with
``only:`` it stays visible, with ``except:`` it is hidden (the safe side for "keep the
presenter").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["all", "only", "except"]


@dataclass(frozen=True)
class Policy:
    """A parsed redaction policy."""

    mode: Mode
    names: frozenset[str] = frozenset()

    @property
    def needs_names(self) -> bool:
        """Whether faces must be identified (face search) to apply it."""
        return self.mode != "all"

    def hides(self, name: str | None) -> bool:
        """Whether a face of ``name`` (``None``: not identified) is hidden."""
        if self.mode == "all":
            return True
        known = name is not None and name in self.names
        return known if self.mode == "only" else not known

    def __str__(self) -> str:
        if self.mode == "all":
            return "all"
        return f"{self.mode}:{','.join(sorted(self.names))}"


def parse_policy(text: str) -> Policy:
    """Parse ``all``, ``only:A,B`` or ``except:A,B`` (names trimmed, case kept).

    Raises:
        ValueError: another form, or ``only:``/``except:`` without a name.
    """
    value = text.strip()
    if value == "all":
        return Policy("all")
    mode, sep, rest = value.partition(":")
    if not sep or mode not in ("only", "except"):
        raise ValueError(
            f"unknown redaction policy {text!r} (all, only:NAME,... or except:NAME,...)"
        )
    names = frozenset(name.strip() for name in rest.split(",") if name.strip())
    if not names:
        raise ValueError(f"the policy {text!r} names nobody")
    return Policy("only" if mode == "only" else "except", names)
