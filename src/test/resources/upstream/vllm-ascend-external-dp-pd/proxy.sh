# The README's proxy, run from examples/external_online_dp/minimax_m2_pd, on the prefill host.
python ../../disaggregated_prefill_v1/load_balance_proxy_server_example.py \
    --port 8009 \
    --host 192.0.2.20 \
    --prefiller-hosts 192.0.2.20 192.0.2.20 \
    --prefiller-ports 7000 7001 \
    --decoder-hosts 192.0.2.21 192.0.2.21 \
    --decoder-ports 7100 7101
