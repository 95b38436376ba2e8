#!/usr/bin/env python3
"""keepalived.conf for bench/checkers-vm: N_TCP real servers under TCP_CHECK (VS 192.0.2.1:8000)
and N_HTTP under HTTP_GET (VS 192.0.2.2:8080), delay_loop 1, real servers on 127.x.y.z
(local on lo).   gen-config.py N_TCP N_HTTP > keepalived.conf"""
import sys

n_tcp, n_http = int(sys.argv[1]), int(sys.argv[2])
tcp = "TCP_CHECK {\n      connect_timeout 2\n      retry 1\n      delay_before_retry 1\n    }"
http = ("HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n"
        "      connect_timeout 2\n      retry 1\n      delay_before_retry 1\n    }")
out = ["global_defs {\n  router_id bench\n}\n"]
for base, n, port, chk, vs in ((1, n_tcp, 8000, tcp, "192.0.2.1"), (2, n_http, 8080, http, "192.0.2.2")):
    out.append(f"virtual_server {vs} {port} {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n")
    for i in range(n):
        ip = f"127.{base}.{(i // 250) % 250 + 1}.{i % 250 + 1}"
        out.append(f"  real_server {ip} {port} {{\n    weight 1\n    {chk}\n  }}\n")
    out.append("}\n")
sys.stdout.write("".join(out))
