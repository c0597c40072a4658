"""The last error each message met in this process, for the reason given when giving up."""

from __future__ import annotations

from collections import OrderedDict

# Bounded: a worker handles an unbounded stream of messages, and only recent failures can still
# reach their last delivery.
_REMEMBERED = 1024
_MAX_CHARS = 500


class LastErrors:
    """A bounded map from message id to the text of its latest failure."""

    def __init__(self, capacity: int = _REMEMBERED) -> None:
        self._capacity = capacity
        self._errors: OrderedDict[str, str] = OrderedDict()

    def remember(self, message_id: str, err: BaseException) -> None:
        """Keep ``err`` as the latest failure of ``message_id`` (evicting the oldest)."""
        self._errors[message_id] = (str(err) or type(err).__name__)[:_MAX_CHARS]
        self._errors.move_to_end(message_id)
        while len(self._errors) > self._capacity:
            self._errors.popitem(last=False)

    def pop(self, message_id: str) -> str | None:
        """Forget ``message_id``'s failure and return it (``None`` if none was seen)."""
        return self._errors.pop(message_id, None)
