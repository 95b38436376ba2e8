#!/bin/sh
# Prints "SERVICE DEST" (ipvs_wait syntax) of a real server of gen-config.sh's table:
#   target.sh N_VS N_RS last   -> the last real server of the last virtual server (cold apply done)
#   target.sh N_VS N_RS mid    -> the real server whose weight CHANGE_WEIGHT changes
N_VS=${1:-10000}; N_RS=${2:-4}; WHICH=${3:-last}
awk -v nvs="$N_VS" -v nrs="$N_RS" -v w="$WHICH" 'BEGIN {
  if (w == "mid") { i = int(nvs / 2); j = 0 } else { i = nvs - 1; j = nrs - 1 }
  n = i * nrs + j
  printf "tcp/10.1.%d.%d/80 10.%d.%d.%d:80\n", int(i / 200), i % 200 + 1, 2 + int(n / 50000), int(n / 200) % 250, n % 200 + 1
}'
