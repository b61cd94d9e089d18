#!/usr/bin/awk -f
# isqrt by Newton's iteration on integers: x <- (x + n/x) / 2 until it stops decreasing.
# Doubles hold integers exactly up to 2^53, which the specification guarantees.
{
	n = $1 + 0
	if (n < 2) { print n; next }
	x = n
	y = int((x + 1) / 2)
	while (y < x) { x = y; y = int((x + int(n / x)) / 2) }
	printf "%d\n", x
}
