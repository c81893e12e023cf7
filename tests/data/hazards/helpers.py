"""A neighbour module of raising.py, imported the way the user's repository imports it."""


def checked_scale(x, factor):
    if factor < 0:
        raise ValueError(f"negative factor {factor}")
    return factor * x
