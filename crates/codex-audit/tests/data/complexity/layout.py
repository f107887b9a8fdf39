"""Layout the token scanner must read as Python does: f-string fields,
lambdas in defaults, continuation lines, comments, soft keywords."""

import functools

match = 3
case = match


@functools.lru_cache(maxsize=None if match else 8)
def fields(a, b, w=10):
    s = f"{a if b else 0:>{w}} {{not a field}} {[x for x in a]!r}"
    t = rf'\{{(\w+)}}' + f"\N{BULLET} {a and b or w}"
    u = f'''{
        a or b
    }'''
    return s + t + u  # trailing comment


def defaults(a, /, key=lambda x, y: x if y else None, *, rev=False, \
             **kw) -> int:
    return sorted(a, key=key, reverse=rev or kw.get("rev") and True)


def numbers(x):
    y = 1if x else 2
    z = 0x1f if x else 1e-3 if y else 1j
    return y, z


def soft(match, case):
    match match:
        case [a, *rest] if a and rest:
            return 1
        case {"k": v} if v:
            return 2
        case (_):
            return 3
    match case:
        case str() as s:
            return s
        case other:
            return other


def comments(x):
    if x:
        pass
        # still inside the if
    # still inside comments
# a column-0 comment ends it


class Outer:
    def method(self, x):
        while x:
            x -= 1
        else:
            return [y for y in range(x) for z in range(y) if z if y]

    @staticmethod
    def helper(a, b): return a if b else (lambda: a or b)()

    async def stream(self, xs):
        async for x in xs:
            async with x:
                assert x and (y for y in x if y), "nothing inside counts"
        try:
            pass
        except* ValueError:
            pass
        except* TypeError:
            pass


def continued(a, b):
    return a and \
        b or \
        (a if b else
         b)


def captures(x):
    match x:
        case 1:
            return 1
        case Y if Y:
            return Y
    match x:
        case None:
            return 0
        case True:
            return 1
