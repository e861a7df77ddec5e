#!/usr/bin/env bash
# City rush hour: 2,000 phones join over two minutes (the morning commute in one mid-size city),
# drive for ten, in a 5 km radius so regions overlap and segment/hazard pushes fan out. The
# thresholds are the service's targets for a deployment sized for this city; see README.md here
# for what the local 2-core cluster reaches today.
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" fleet \
  --devices 2000 --ramp 2m --duration 10m --workers auto --accounts 250 \
  --area 28.6139,77.2090,5 \
  --threshold 'connected>=2000' \
  --threshold 'errors==0' \
  --threshold 'disconnects<20' \
  --threshold 'obs_ack_p99<1000' \
  --threshold 'location_ack_p99<250' \
  --threshold 'push_lag_p99<5000' \
  --threshold 'generator_loop_p99_ms<100' \
  "$@"
