# deployment[3], on host 3 (192.0.2.13).
env HCCL_OP_EXPANSION_MODE=AIV VLLM_USE_MODELSCOPE=True HCCL_BUFFSIZE=1024 SERVER_PORT=8080 \
    OMP_PROC_BIND=False OMP_NUM_THREADS=1 PYTORCH_NPU_ALLOC_CONF=expandable_segments:True HCCL_DETERMINISTIC=True \
    TASK_QUEUE_ENABLE=1 HCCL_OP_RETRY_ENABLE="L0:0, L1:0, L2:0" \
    GLOO_SOCKET_IFNAME=eth0 TP_SOCKET_IFNAME=eth0 HCCL_SOCKET_IFNAME=eth0 NIC_NAME=eth0 \
    DISAGGREGATED_PREFILL_RANK_TABLE_PATH=None LD_LIBRARY_PATH=/usr/local/Ascend/ascend-toolkit/latest/python/site-packages: \
    HCCL_IF_IP=192.0.2.13 LOCAL_IP=192.0.2.13 MASTER_IP=192.0.2.12 \
vllm serve vllm-ascend/DeepSeek-R1-0528-W8A8 \
    --headless \
    --data-parallel-size 32 \
    --data-parallel-size-local 16 \
    --data-parallel-start-rank 16 \
    --data-parallel-address 192.0.2.12 \
    --data-parallel-rpc-port 13389 \
    --tensor-parallel-size 1 \
    --enable-expert-parallel \
    --seed 1024 \
    --quantization ascend \
    --max-num-seqs 28 \
    --max-model-len 36864 \
    --max-num-batched-tokens 256 \
    --trust-remote-code \
    --gpu-memory-utilization 0.9 \
    --no-enable-prefix-caching \
    --speculative-config '{"num_speculative_tokens": 1, "method":"mtp"}' \
    --compilation-config '{"cudagraph_mode": "FULL_DECODE_ONLY"}' \
    --kv-transfer-config \
    '{"kv_connector": "MooncakeConnectorV1",
    "kv_role": "kv_consumer",
    "kv_port": "30200",
    "engine_id": "2",
    "kv_connector_module_path": "vllm_ascend.distributed.mooncake_connector",
    "kv_connector_extra_config": {
              "prefill": {
                      "dp_size": 2,
                      "tp_size": 8
              },
              "decode": {
                      "dp_size": 32,
                      "tp_size": 1
              }
        }
    }' \
    --additional-config \
    '{"recompute_scheduler_enable":true,
    "enable_shared_expert_dp":true,
    "multistream_overlap_shared_expert":true,
    "finegrained_tp_config": {"lmhead_tensor_parallel_size":8}
    }'
