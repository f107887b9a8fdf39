"""Constructs where radon's rules are easy to get wrong: what an assert
hides, classes inside functions and classes, closures, and async code."""

import functools


def checked(items, limit=None):
    # radon counts each assert once and never looks inside it.
    assert items and (limit is None or limit > 0), "bad arguments"
    assert all(x > 0 for x in items if x is not None)
    assert (limit if limit else 0) >= 0
    total = 0
    for x in items:
        if x is None or x < 0:
            continue
        total += x
    return total


def sort_key(compare):
    # The class is a closure radon does not report; it adds nothing here.
    class Key:
        def __init__(self, obj):
            self.obj = obj

        def __lt__(self, other):
            return compare(self.obj, other.obj) < 0 or (
                compare(self.obj, other.obj) == 0 and id(self) < id(other)
            )

    if compare is None:
        raise ValueError("compare is required")
    return Key


class Outer:
    class Inner:
        def size(self, values):
            return len([v for v in values if v if v > 1])

    def run(self, jobs):
        results = []
        for job in jobs:
            try:
                results.append(job())
            except (ValueError, TypeError):
                results.append(None)
            except Exception:
                raise
            else:
                pass
            finally:
                results.append(...)
        else:
            results.append("done")
        return results

    @functools.cache
    def lookup(self, key, table=None):
        table = table or {}
        while (value := table.get(key)) is not None and value != key:
            key = value
        else:
            return key

    async def fetch(self, urls):
        async with self.session() as s:
            async for u in s.stream(urls):
                if u.ok and not u.cached:
                    yield u
        return


def dispatch(event):
    match event:
        case {"type": "click", "x": x} if x > 0:
            return "click"
        case ["key", *rest] if rest or event:
            return "key"
        case str() | bytes():
            return "text"
        case other:
            return repr(other)


def outer(n):
    def middle(m):
        def inner(k):
            return k if k else -k
        return [inner(i) for i in range(m) if i % 2 for _ in range(2)]
    handler = lambda v: v and n or 0  # noqa: E731
    return middle(n) if n > 0 else handler(n)
