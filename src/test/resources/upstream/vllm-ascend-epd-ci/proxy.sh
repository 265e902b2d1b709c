# epd_proxy_args.
ENCODE_PORT=23001 PD_PORT=33003 PROXY_PORT=8001 \
python /vllm-workspace/vllm-ascend/examples/disaggregated_encoder/disagg_epd_proxy.py \
    --host 127.0.0.1 \
    --port 8001 \
    --encode-servers-urls http://localhost:23001 \
    --decode-servers-urls http://localhost:33003 \
    --prefill-servers-urls disable
