"""Yes/no query filters take yes or no; anything else is a 400 naming the parameter."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_error, paginated


@pytest.mark.parametrize("path,name", [("/notifications", "unread"), ("/orders", "top_level")])
def test_a_yes_no_filter_refuses_other_words(alice, path, name):
    # given a trader
    # when a yes/no filter gets something that is neither
    response = alice.get(path, {name: "maybe"})
    # then it is a 400 naming the filter (it used to be read as "no")
    assert_error(response, 400, "validation_error", field=name)


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on", "0", "false", "no", "off", ""])
def test_a_yes_no_filter_takes_the_usual_spellings(alice, value):
    # given a trader
    # when the unread filter is given a usual spelling of yes or no (or nothing)
    # then the list is answered
    paginated(alice.get("/notifications", {"unread": value}))
