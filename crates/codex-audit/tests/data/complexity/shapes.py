def decorator(fn):
    def wrapper(*args, **kwargs):
        if args:
            return fn(*args, **kwargs)
        return None
    return wrapper


class Shape:
    sides = 0

    def __init__(self, name):
        self.name = name

    @decorator
    def area(self, scale=1 if True else 2):
        return 0 if self.sides == 0 else self.sides * scale

    def describe(self):
        def inner(n):
            return "many" if n > 4 else "few"
        return inner(self.sides)


async def fetch(urls):
    results = []
    async for u in urls:
        if u:
            results.append(u)
    return results


def matcher(command):
    match command:
        case "go":
            return 1
        case "stop" | "halt":
            return 2
        case {"x": x} if x > 0:
            return 3
        case _:
            return 0


def capture(command):
    match command:
        case 1:
            return "one"
        case other:
            return other


def no_default(command):
    match command:
        case 1:
            return "one"
        case 2:
            return "two"
