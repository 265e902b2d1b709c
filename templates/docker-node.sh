#!/usr/bin/env bash
# {{role}} node {{name}} of EPD deployment {{deployment}}, on host {{host}}, in a container.
# Rendered by epdctl from the topology file: change the topology, not this script.
# The container runs in the foreground of this script: stopping the script (SIGTERM, SIGINT) stops and
# removes the container; when the container ends, the script ends with its exit status.
set -e

# A proxy variable breaks the calls the instances make to each other.
unset http_proxy https_proxy ftp_proxy HTTP_PROXY HTTPS_PROXY FTP_PROXY

# The node's environment; the container gets each variable by name (docker run -e NAME).
{{exports}}
{{setup}}
{{directories}}
{{command}}
