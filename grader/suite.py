"""The single pytest test function of the grader: one item per registered check."""


def test_check(check, impl):
    check.fn(impl)
