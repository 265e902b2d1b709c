# The example's decode worker.
ASCEND_RT_VISIBLE_DEVICES="2" vllm serve "Qwen/Qwen2.5-VL-7B-Instruct" \
    --gpu-memory-utilization 0.9 \
    --port "19536" \
    --enforce-eager \
    --enable-request-id-headers \
    --max-num-seqs 128 \
    --kv-transfer-config '{
    "kv_connector": "MooncakeConnectorV1",
    "kv_role": "kv_consumer", 
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
