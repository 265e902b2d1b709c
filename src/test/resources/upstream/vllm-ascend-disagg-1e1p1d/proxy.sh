# The example's proxy, run from the example's directory.
python ./disagg_epd_proxy.py \
    --host "0.0.0.0" \
    --port "10001" \
    --encode-servers-urls "http://localhost:19534" \
    --prefill-servers-urls "http://localhost:19535" \
    --decode-servers-urls "http://localhost:19536"
