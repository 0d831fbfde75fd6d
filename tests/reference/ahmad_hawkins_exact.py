#!/usr/bin/env python3
"""Exact reference values for tests/unit/test_ahmad_hawkins.cpp.

Rational arithmetic only (fractions.Fraction over math.comb big integers); the decimal
expansion is printed with 17 significant digits. Independent of the C++ code: no
logarithms, no floating point until the final printing.

    /usr/bin/python3 tests/reference/ahmad_hawkins_exact.py
"""
from fractions import Fraction
from math import comb


def fp(n, a, s, theta):
    """Eq. (4): sum_{b=theta}^{s} C(s,b) C(n-s,a-b) / C(n,a)."""
    return Fraction(sum(comb(s, b) * comb(n - s, a - b) for b in range(theta, min(s, a) + 1)), comb(n, a))


def fn(a, s, theta, v):
    """Eq. (6): sum_{b=0}^{theta-1} C(s,b) C(a-s,a-v-b) / C(a,a-v)."""
    return Fraction(sum(comb(s, b) * comb(a - s, a - v - b) for b in range(0, theta)),
                    comb(a, a - v))


def any_of(p, m):
    """Eq. (8): 1 - (1 - P)^M."""
    return 1 - (1 - p) ** m


def union_sizes(n, s, m):
    """P(|S_1 u ... u S_M| = u) for independent uniform s-subsets: dict u -> Fraction."""
    dist = {0: Fraction(1)}
    for _ in range(m):
        nxt = {}
        for u, p in dist.items():
            for j in range(0, s + 1):
                w = comb(n - u, j) * comb(u, s - j)
                if w:
                    nxt[u + j] = nxt.get(u + j, 0) + p * Fraction(w, comb(n, s))
        dist = nxt
    return dist


def union_fp(n, a, s, theta, m):
    return sum(p * fp(n, a, u, theta) for u, p in union_sizes(n, s, m).items())


def union_fn(n, a, s, theta, v, m):
    others = union_sizes(n, s, m - 1)
    total = Fraction(0)
    for k in range(0, min(s, v) + 1):
        pk = Fraction(comb(s, k) * comb(a - s, v - k), comb(a, v))
        if pk == 0:
            continue
        t = a - s + k
        need = theta - (s - k)  # fail iff |R & T| < need
        for r, pr in others.items():
            px = sum(Fraction(comb(t, x) * comb(n - t, r - x), comb(n, r)) for x in range(0, max(need, 0)))
            total += pk * pr * px
    return total


def show(label, value):
    print(f"{label} = {float(value):.17g}")


if __name__ == "__main__":
    for theta in (8, 10, 12, 14, 15, 16, 20):
        show(f"fp(2048, 40, 24, {theta})", fp(2048, 40, 24, theta))
    show("fp(4000, 128, 24, 12)", fp(4000, 128, 24, 12))
    show("fp(10000, 300, 30, 12)", fp(10000, 300, 30, 12))
    show("fp(100000, 2000, 10, 10)", fp(100000, 2000, 10, 10))
    show("fp(64, 40, 24, 20)", fp(64, 40, 24, 20))
    for theta, v in ((12, 64), (16, 32), (20, 20), (10, 80)):
        show(f"fn(128, 30, {theta}, {v})", fn(128, 30, theta, v))
    show("fn(40, 24, 16, 16)", fn(40, 24, 16, 16))
    show("any_of(fp(2048, 40, 24, 12), 1000)", any_of(fp(2048, 40, 24, 12), 1000))
    show("any_of(fp(256, 16, 12, 4), 10)", any_of(fp(256, 16, 12, 4), 10))
    show("union_fp(2048, 40, 24, 12, 10)", union_fp(2048, 40, 24, 12, 10))
    show("union_fp(2048, 40, 24, 16, 20)", union_fp(2048, 40, 24, 16, 20))
    show("union_fp(256, 16, 8, 4, 5)", union_fp(256, 16, 8, 4, 5))
    show("union_fn(256, 16, 8, 4, 6, 5)", union_fn(256, 16, 8, 4, 6, 5))
    show("union_fn(2048, 40, 24, 12, 20, 10)", union_fn(2048, 40, 24, 12, 20, 10))
    show("union_fp(20000, 100, 25, 15, 10)", union_fp(20000, 100, 25, 15, 10))
    show("fn(200, 40, 10, 40)", fn(200, 40, 10, 40))
    show("fn(128, 30, 8, 32)", fn(128, 30, 8, 32))
    show("fp(2048, 40, 229, 12)", fp(2048, 40, 229, 12))
    show("E|union|(2048, 24, 10)", 2048 * (1 - (1 - Fraction(24, 2048)) ** 10))
    show("fp(2048, 40, 228, 12)", fp(2048, 40, 228, 12))
    show("fp(128, 16, 12, 5)", fp(128, 16, 12, 5))
    show("fn(16, 12, 5, 8)", fn(16, 12, 5, 8))
    show("E|union|(20000, 25, 10)", 20000 * (1 - (1 - Fraction(25, 20000)) ** 10))
