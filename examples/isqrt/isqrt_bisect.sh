#!/bin/sh
# isqrt by bisection: the largest r with r*r <= n, in 64-bit shell arithmetic.
while read -r n; do
	lo=0
	hi=94906266 # floor(sqrt(2^53)) + 1, so hi*hi fits in 64 bits
	while [ $((hi - lo)) -gt 1 ]; do
		mid=$(((lo + hi) / 2))
		if [ $((mid * mid)) -le "$n" ]; then lo=$mid; else hi=$mid; fi
	done
	echo "$lo"
done
