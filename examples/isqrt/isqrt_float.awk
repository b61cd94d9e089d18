#!/usr/bin/awk -f
# isqrt in floating point: int(sqrt(n)). Quick, and wrong where sqrt rounds up to the next
# integer (n = k*k - 1 for large k). Kept as the faulty version of the demo.
{ printf "%d\n", int(sqrt($1 + 0)) }
