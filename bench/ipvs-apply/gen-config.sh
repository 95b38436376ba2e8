#!/bin/sh
# keepalived.conf with N_VS virtual servers × N_RS real servers, no checkers (real servers are in
# at once, for keepalived and lvsd alike).   gen-config.sh N_VS N_RS [CHANGE_WEIGHT]
# VS i = 10.1.(i/200).(i%200+1):80 rr DR; its real servers 10.(2+n/50000).(n/200%250).(n%200+1):80,
# n = i*N_RS + j, weight 1. With CHANGE_WEIGHT, the first real server of the middle virtual
# server gets that weight instead (the one-weight reload); see target.sh for its addresses.
N_VS=${1:-10000}; N_RS=${2:-4}; CW=${3:-}
awk -v nvs="$N_VS" -v nrs="$N_RS" -v cw="$CW" 'BEGIN {
  mid = int(nvs / 2)
  print "global_defs {\n  router_id bench\n}"
  for (i = 0; i < nvs; i++) {
    printf "virtual_server 10.1.%d.%d 80 {\n  delay_loop 60\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n", int(i / 200), i % 200 + 1
    for (j = 0; j < nrs; j++) {
      n = i * nrs + j
      w = (cw != "" && i == mid && j == 0) ? cw : 1
      printf "  real_server 10.%d.%d.%d 80 {\n    weight %d\n  }\n", 2 + int(n / 50000), int(n / 200) % 250, n % 200 + 1, w
    }
    print "}"
  }
}'
