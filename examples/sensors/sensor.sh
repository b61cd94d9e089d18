#!/bin/sh
# A simulated temperature sensor: prints one reading per line as the temperature ramps
# from 20.0 by 0.25 per step. `sensor.sh OFFSET` adds a calibration offset (a healthy
# sensor's small error); `sensor.sh stuck` freezes after the third reading (a stuck-at fault).
mode=${1:-0}
steps=${2:-8}
awk -v mode="$mode" -v steps="$steps" 'BEGIN {
	for (i = 0; i < steps; i++) {
		t = 20 + 0.25 * i
		if (mode == "stuck") { if (i > 2) t = 20.5 }
		else t += mode
		printf "%.2f\n", t
		fflush()
		system("sleep 0.05")
	}
}'
