from calls.models import Direction
from checklists.models import CALL_DIRECTIONS


def test_checklist_directions_are_the_call_directions():
    """checklists does not import calls, so it repeats the directions; they must stay the same."""
    assert [code for code, _ in CALL_DIRECTIONS] == list(Direction.values)
