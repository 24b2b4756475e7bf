import pytest

from checklists.scoring import ScoredItem, score_items


def _i(answer, weight=1, critical=False):
    return ScoredItem(answer=answer, weight=weight, is_critical=critical)


def test_score_is_met_weight_over_applicable_weight():
    result = score_items([_i("met", 3), _i("not_met", 1), _i("met", 1)])
    assert result.score == pytest.approx(80.0) and (result.met_weight, result.applicable_weight) == (4, 5)


def test_not_applicable_items_count_on_neither_side():
    assert score_items([_i("met", 2), _i("na", 5), _i("not_met", 2)]).score == 50.0


def test_critical_item_not_met_auto_fails_but_keeps_the_score():
    result = score_items([_i("met", 9), _i("not_met", 1, critical=True)])
    assert result.auto_fail is True and result.score == 90.0


def test_critical_item_met_does_not_fail():
    assert score_items([_i("met", 1, critical=True), _i("not_met", 1)]).auto_fail is False


def test_needs_review_is_unknown_not_failed_and_flags_review():
    result = score_items([_i("met", 1), _i("needs_review", 1, critical=True)])
    assert (result.score, result.auto_fail, result.needs_review) == (100.0, False, True)


def test_nothing_applicable_gives_no_score():
    assert score_items([_i("na"), _i("na")]).score is None
    assert score_items([]).score is None


def test_unknown_answer_is_an_error():
    with pytest.raises(ValueError):
        score_items([_i("maybe")])
