#!/usr/bin/env bash
# Accuracy: a road network with known ground truth, driven by 12 devices, scored. Not load: it
# checks that what the fleet reports ends up as the right road classes and hazards. It waits up
# to 5 min for the aggregates, so that a batch whose aggregation failed is also counted after the
# nodes recover it (2 min later).
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" truth \
  --devices 12 --passes 2 --roads 4 --road-km 1 \
  --threshold 'errors==0' \
  --threshold 'class_accuracy>=0.9' \
  --threshold 'hazard_recall>=0.9' \
  --threshold 'hazard_precision>=0.8' \
  --threshold 'hazard_position_error_m<8' \
  --threshold 'not_aggregated==0' \
  --threshold 'over_aggregated==0' \
  --settle-timeout 300s --settle-quiet 150s \
  "$@"
