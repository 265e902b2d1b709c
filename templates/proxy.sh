#!/usr/bin/env bash
# Proxy of EPD deployment {{deployment}}, on host {{host}}.
# Rendered by epdctl from the topology file: change the topology, not this script.
set -e

# The proxy must reach the nodes directly, never through an HTTP proxy.
unset http_proxy https_proxy ftp_proxy HTTP_PROXY HTTPS_PROXY FTP_PROXY

{{exports}}
{{setup}}
exec {{command}}
