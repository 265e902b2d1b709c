# The proxy the runner starts on host 0 (192.0.2.10), with host 0's environment.
env HCCL_OP_EXPANSION_MODE=AIV VLLM_USE_MODELSCOPE=True HCCL_BUFFSIZE=1024 SERVER_PORT=8080 \
    OMP_PROC_BIND=False OMP_NUM_THREADS=1 PYTORCH_NPU_ALLOC_CONF=expandable_segments:True HCCL_DETERMINISTIC=True \
    TASK_QUEUE_ENABLE=1 HCCL_OP_RETRY_ENABLE="L0:0, L1:0, L2:0" \
    GLOO_SOCKET_IFNAME=eth0 TP_SOCKET_IFNAME=eth0 HCCL_SOCKET_IFNAME=eth0 NIC_NAME=eth0 \
    DISAGGREGATED_PREFILL_RANK_TABLE_PATH=None LD_LIBRARY_PATH=/usr/local/Ascend/ascend-toolkit/latest/python/site-packages: \
    HCCL_IF_IP=192.0.2.10 LOCAL_IP=192.0.2.10 MASTER_IP=192.0.2.10 \
python examples/disaggregated_prefill_v1/load_balance_proxy_server_example.py \
    --host 192.0.2.10 \
    --port 1999 \
    --prefiller-hosts 192.0.2.10 192.0.2.11 \
    --prefiller-ports 8080 8080 \
    --decoder-hosts 192.0.2.12 192.0.2.13 \
    --decoder-ports 8080 8080
