# The example's EC directory preparation and its encoder worker.
rm -rf /tmp/ec_cache
mkdir -p /tmp/ec_cache
ASCEND_RT_VISIBLE_DEVICES="0" vllm serve "Qwen/Qwen2.5-VL-7B-Instruct" \
    --gpu-memory-utilization 0.01 \
    --port "19534" \
    --enforce-eager \
    --enable-request-id-headers \
    --no-enable-prefix-caching \
    --max-num-batched-tokens 114688 \
    --max-num-seqs 128 \
    --ec-transfer-config '{
        "ec_connector": "ECExampleConnector",
        "ec_role": "ec_producer",
        "ec_connector_extra_config": {
            "shared_storage_path": "/tmp/ec_cache"
        }
    }'
