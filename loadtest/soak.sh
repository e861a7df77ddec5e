#!/usr/bin/env bash
# Soak: 200 phones for 30 minutes. Every 5 s /health must answer within 1 s (through the URL and,
# on the cluster's machine, from every node), node RSS, heap and open files must level off, and
# at the end every observation ever acked ok must be in the store (auto: the store the local nodes
# use; give --mongo-uri <uri> for a remote deployment).
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" soak \
  --devices 200 --ramp 1m --minutes 30 --batch-size 2 \
  --threshold 'health_failures==0' \
  --threshold 'node_rss_growth_pct<25' \
  --threshold 'node_heap_growth_pct<25' \
  --threshold 'node_fds_growth<50' \
  --threshold 'missing==0' \
  --threshold 'errors==0' \
  --threshold 'ack_timeouts==0' \
  "$@"
