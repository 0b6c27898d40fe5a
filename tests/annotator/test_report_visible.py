"""`report_visible_get` (one report, the report page and API) answers exactly as
the list `reports_visible` filtered to that report, for every report state and
for the report's reader, another reader, an adjudicator and a reader+adjudicator;
for readers also before and after the gold is released to them (feedback batch)."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from accounts.selectors import user_roles
from annotator.selectors.access import report_visible_get, reports_visible
from annotator.selectors.reports import report_status
from tests.annotator.test_blinding_matrix import STATES, _build

pytestmark = pytest.mark.both_backends


def _seen(user, report_id: int) -> tuple[object, object]:  # type: ignore[no-untyped-def]
    roles = frozenset(user_roles(user=user))
    one = report_visible_get(user=user, roles=roles, report_id=report_id)
    listed = reports_visible(user=user, roles=roles).filter(id=report_id).first()
    return ((one.id, report_status(one)) if one else None), ((listed.id, report_status(listed)) if listed else None)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("feedback_after_reads", [0, 20])
def test_one_report_as_the_list_shows_it(state, feedback_after_reads, make_user, make_reports, settings_row, settings):  # type: ignore[no-untyped-def]
    settings.CHEXGOLD_FEEDBACK_AFTER_READS = feedback_after_reads  # 0: released at once; 20: not yet
    first, second = make_user("first", "reader"), make_user("second", "reader")
    both = make_user("both", "reader")
    from accounts.services import user_role_add

    user_role_add(user=both, role=Role.ADJUDICATOR)
    adjudicators = [make_user("adj1", "adjudicator"), make_user("adj2", "adjudicator")]
    other = make_user("other", "reader")
    report = make_reports(1)[0]
    _build(state, report=report, first=first, second=second, adjudicators=adjudicators)
    for user in (first, second, other, both, *adjudicators):
        one, listed = _seen(user, report.id)
        assert one == listed, (state, user.username, one, listed)
