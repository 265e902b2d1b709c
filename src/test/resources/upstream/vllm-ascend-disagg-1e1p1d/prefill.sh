# The example's prefill worker.
ASCEND_RT_VISIBLE_DEVICES="1" vllm serve "Qwen/Qwen2.5-VL-7B-Instruct" \
    --gpu-memory-utilization 0.9 \
    --port "19535" \
    --enforce-eager \
    --enable-request-id-headers \
    --max-num-seqs 128 \
    --ec-transfer-config '{
        "ec_connector": "ECExampleConnector",
        "ec_role": "ec_consumer",
        "ec_connector_extra_config": {
            "shared_storage_path": "/tmp/ec_cache"
        }
    }' \
    --kv-transfer-config '{
    "kv_connector": "MooncakeConnectorV1",
    "kv_role": "kv_producer", 
    "kv_connnector_module_path": "vllm_ascend.distributed.mooncake_connector",
    "kv_connector_extra_config": {
        "prefill": {
            "dp_size": 1,
            "tp_size": 1
        },
        "decode": {
            "dp_size": 1,
            "tp_size": 1
        }
    }'
