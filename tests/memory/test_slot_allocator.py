"""The minimal slot allocator: slot 0 reserved, check-then-commit, nothing lost."""

from __future__ import annotations

import random

import pytest

from runtime.memory.slot_allocator import OutOfSlotsError, SlotAllocator


def test_slot_zero_is_never_handed_out() -> None:
    """All usable slots can be taken, and none of them is slot 0."""
    alloc = SlotAllocator(8)
    assert sorted(alloc.allocate(7)) == list(range(1, 8))
    assert not alloc.can_allocate(1)


def test_failed_allocation_takes_nothing() -> None:
    """Asking for more than is free raises and leaves the free count unchanged."""
    alloc = SlotAllocator(4)
    with pytest.raises(OutOfSlotsError):
        alloc.allocate(4)
    assert alloc.num_free == 3


def test_random_allocate_free_sequences_conserve_slots() -> None:
    """After random allocate/free rounds, held + free slots are exactly the usable ones."""
    rng, alloc, held = random.Random(3), SlotAllocator(64), []
    for _ in range(500):
        if held and rng.random() < 0.5:
            rng.shuffle(held)
            alloc.free([held.pop() for _ in range(rng.randint(1, len(held)))])
        elif alloc.can_allocate(n := rng.randint(1, 8)):
            held.extend(alloc.allocate(n))
    assert sorted(held + alloc._free) == list(range(1, 64))
