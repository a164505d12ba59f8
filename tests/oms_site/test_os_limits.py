"""The run command raises the open-files limit the live stream needs (oms_site/os_limits.py)."""

from __future__ import annotations

import resource

import pytest

from oms_site.os_limits import raise_open_files_limit


@pytest.fixture
def low_soft_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip("the hard limit leaves nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    yield hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_soft_limit_is_raised_up_to_what_is_wanted_within_the_hard_one(low_soft_limit):
    # given the common default of 1,024 open files
    hard = low_soft_limit
    # when the run command raises it
    soft_now, hard_now = raise_open_files_limit(wanted=2048)
    # then it is what was wanted, and the hard limit is untouched
    assert (soft_now, hard_now) == (2048, hard)
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (2048, hard)


def test_it_never_goes_above_the_hard_limit_nor_lowers_the_soft_one(low_soft_limit):
    hard = low_soft_limit
    wanted = hard + 1 if hard != resource.RLIM_INFINITY else 10**6
    soft_now, _ = raise_open_files_limit(wanted=wanted)
    assert soft_now == (hard if hard != resource.RLIM_INFINITY else wanted)
    assert raise_open_files_limit(wanted=10)[0] == soft_now
