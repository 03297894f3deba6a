"""The signatures a reader holds, and the array literal sent back to the server."""

from dbtop.engines.postgres.signatures import HeldSignatures


def test_the_array_literal_follows_every_change_to_what_is_held():
    held: HeldSignatures[int] = HeldSignatures()
    assert held.array_literal() == "{}" and len(held) == 0
    held[-9223372036854775808] = 1
    held[42] = 2
    held.update([(7, 3), (42, 4)])  # 42 moves to another owner: sent once
    assert held[42] == 4 and 7 in held and sorted(held) == [-9223372036854775808, 7, 42]
    assert sorted(int(v) for v in held.array_literal()[1:-1].split(",")) == [-9223372036854775808, 7, 42]
    assert held.pop(7) == 3
    del held[-9223372036854775808]
    assert held.array_literal() == "{42}" and list(held) == [42]
