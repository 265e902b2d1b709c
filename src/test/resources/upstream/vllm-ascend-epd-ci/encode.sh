# epd_server_cmds[0], server index 0.
ENCODE_PORT=23001 PD_PORT=33003 PROXY_PORT=8001 \
VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 PYTORCH_NPU_ALLOC_CONF=expandable_segments:True VLLM_WORKER_MULTIPROC_METHOD=spawn \
ASCEND_RT_VISIBLE_DEVICES=0 \
vllm serve \
    --port 23001 \
    --model Qwen/Qwen2.5-VL-7B-Instruct \
    --gpu-memory-utilization 0.01 \
    --tensor-parallel-size 1 \
    --enforce-eager \
    --no-enable-prefix-caching \
    --max-model-len 10000 \
    --max-num-batched-tokens 10000 \
    --max-num-seqs 1 \
    --ec-transfer-config '{"ec_connector_extra_config":{"shared_storage_path":"/tmp/shm/epd/storage"},"ec_connector":"ECExampleConnector","ec_role": "ec_producer"}'
