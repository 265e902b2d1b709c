#!/usr/bin/env bash
# {{role}} node {{name}} of EPD deployment {{deployment}}, on host {{host}}.
# Rendered by epdctl from the topology file: change the topology, not this script.
set -e

# A proxy variable breaks the calls the instances make to each other.
unset http_proxy https_proxy ftp_proxy HTTP_PROXY HTTPS_PROXY FTP_PROXY

{{exports}}
{{setup}}
{{directories}}
exec {{command}}
