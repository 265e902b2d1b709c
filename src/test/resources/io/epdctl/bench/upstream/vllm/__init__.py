# Stand-in package for the vLLM-Ascend proxy scripts under bin/bench-proxy --upstream: vLLM itself cannot be
# installed here, and the scripts take only their logger from it.
