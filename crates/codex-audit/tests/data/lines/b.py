#!/usr/bin/env python3
"""Module docstring.

Spans lines.
"""

import os


def f(x):
    """One-line docstring."""
    # a comment
    y = x + 1  # trailing
    return y


class C:
    '''Class docstring.'''

    def g(self):
        s = "# not a comment"
        return s
