#!/usr/bin/env python3
"""isqrt with Python's exact integer square root."""
import math
import sys

for line in sys.stdin:
    if line.strip():
        print(math.isqrt(int(line)))
