"""The collector in long-running processes (`homeport.heap`)."""

from __future__ import annotations

import gc
import weakref

from homeport import heap


class Node:
    """A cycle's member."""

    def __init__(self) -> None:
        self.other: Node | None = None


def test_settle_freezes_start_up_and_later_cycles_are_still_freed() -> None:
    try:
        heap.settle()
        assert gc.get_freeze_count() > 1000  # the interpreter, pytest and Homeport's modules
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None  # a cycle made after start-up is collected as before
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
