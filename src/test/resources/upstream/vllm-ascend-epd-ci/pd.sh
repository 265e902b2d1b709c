# epd_server_cmds[1], server index 1.
ENCODE_PORT=23001 PD_PORT=33003 PROXY_PORT=8001 \
VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 PYTORCH_NPU_ALLOC_CONF=expandable_segments:True VLLM_WORKER_MULTIPROC_METHOD=spawn \
ASCEND_RT_VISIBLE_DEVICES=1 \
vllm serve \
    --port 33003 \
    --model Qwen/Qwen2.5-VL-7B-Instruct \
    --gpu-memory-utilization 0.95 \
    --tensor-parallel-size 1 \
    --enforce-eager \
    --max-model-len 10000 \
    --max-num-batched-tokens 10000 \
    --max-num-seqs 128 \
    --ec-transfer-config '{"ec_connector_extra_config":{"shared_storage_path":"/tmp/shm/epd/storage"},"ec_connector":"ECExampleConnector","ec_role": "ec_consumer"}'
