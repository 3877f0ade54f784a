"""Shared pieces of the parity harness: the check registry and the per-run context.

A check is a function taking a Ctx and returning a one-line summary (or raising
AssertionError). Put new families' checks in tools/parity/checks_<area>.py and decorate them
with @check; run.py imports every checks_*.py module.
"""
import os
import random
import subprocess

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


class Ctx:
    def __init__(self, xling, seed, tmp):
        self.xling = xling
        self.seed = seed
        self.tmp = tmp
        self.rng = random.Random(seed)

    def run(self, *args, expect=0, input=None):
        p = subprocess.run([self.xling, *args], capture_output=True, input=input)
        if p.returncode != expect:
            raise AssertionError(f"xling {' '.join(args)} exited {p.returncode} (expected {expect}):\n"
                                 f"{p.stderr.decode(errors='replace')}")
        return p

    def path(self, name):
        return os.path.join(self.tmp, name)
