#!/usr/bin/env bash
# Smoke: 50 phones for a minute at the app's real rates (location 5 s, a batch of 5 observations
# every second, heartbeat 30 s). Answers "does it work at all, end to end": every device connects,
# nothing times out or fails, every ack adds up, and the acks that matter to a driver are quick.
# Add --mongo-uri <uri> (or "auto" on the cluster's own machine) to also check every acked id.
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" fleet \
  --devices 50 --ramp 10s --duration 60s \
  --threshold 'connected>=50' \
  --threshold 'errors==0' \
  --threshold 'ack_timeouts==0' \
  --threshold 'disconnects==0' \
  --threshold 'location_ack_p99<500' \
  --threshold 'heartbeat_ack_p99<500' \
  --threshold 'obs_ack_p99<2000' \
  "$@"
