export { type FleetResult, runFleet } from "./fleet/run.js";
export { Histogram } from "./metrics/histogram.js";
export { evaluate, parseThreshold } from "./metrics/thresholds.js";
export { FLEET_FLAGS, type FleetOptions, fleetOptions, parseFlags } from "./options.js";
