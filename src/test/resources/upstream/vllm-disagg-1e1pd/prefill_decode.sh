# The example's prefill+decode worker.
CUDA_VISIBLE_DEVICES="1" vllm serve "Qwen/Qwen2.5-VL-3B-Instruct" \
    --gpu-memory-utilization 0.7 \
    --port "19535" \
    --enforce-eager \
    --enable-request-id-headers \
    --max-num-seqs 128 \
    --allowed-local-media-path /vllm-workspace/vllm/tests/v1/ec_connector/integration \
    --ec-transfer-config '{
        "ec_connector": "ECExampleConnector",
        "ec_role": "ec_consumer",
        "ec_connector_extra_config": {
            "shared_storage_path": "/tmp/ec_cache"
        }
    }'
