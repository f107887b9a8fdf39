import os


def simple():
    return 1


def branches(a, b, c=None if os.sep else 1):
    if a and b or c:
        return 1
    elif a:
        return 2
    elif b and (c or a):
        return 3
    else:
        return 4


def loops(items):
    total = 0
    for x in items:
        if x > 3:
            break
    else:
        total += 1
    while total < 10:
        total += 2
    else:
        total -= 1
    async_like = [y for y in items if y if y > 1]
    pairs = {k: v for k in items for v in items if k != v}
    gen = sum(z for z in items)
    return total, async_like, pairs, gen


def errors(path):
    try:
        fh = open(path)
    except FileNotFoundError:
        return None
    except (PermissionError, IsADirectoryError):
        raise
    else:
        return fh
    finally:
        pass


def ternaries(x):
    f = lambda y: y if y else -y
    assert x is not None
    assert x, "message"
    with open(x) as fh:
        data = fh.read() if fh else ""
    return f(x), data
