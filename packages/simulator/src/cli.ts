#!/usr/bin/env node
import { startBaseline } from "./baseline/server.js";
import { figureNames, runFleet } from "./fleet/run.js";
import { checkNames, parseThreshold } from "./metrics/thresholds.js";
import {
  FLEET_FLAGS,
  flagHelp,
  fleetOptions,
  parseFlags,
  SOAK_FLAGS,
  soakOptions,
  TRUTH_FLAGS,
  truthOptions,
  UsageError,
} from "./options.js";
import { DEFAULT_SOAK_THRESHOLDS, runSoak, SOAK_FIGURES } from "./soak/run.js";
import { runTruth, TRUTH_FIGURES } from "./truth/run.js";

const USAGE = `roadpulse-sim <command> [flags]

commands:
  fleet      N simulated phones against --url; per-event ack latency, pushes, cluster CPU/RSS, thresholds
  truth      drive the fleet over a road network with known ground truth and score the aggregates
  soak       the fleet for --minutes, watching /health, node memory and file descriptors
  baseline   a bare Socket.IO server that only acknowledges (the generator's own ceiling)

exit code: 0 when every --threshold holds, 1 when one breaks, 2 on a usage error.
fleet flags:
${flagHelp(FLEET_FLAGS)}
truth flags:
${flagHelp(TRUTH_FLAGS)}
soak flags: the fleet's, and
${flagHelp({ minutes: SOAK_FLAGS.minutes, "check-interval": SOAK_FLAGS["check-interval"], "health-timeout": SOAK_FLAGS["health-timeout"], "mongo-uri": SOAK_FLAGS["mongo-uri"] })}
  (default thresholds when none are given: ${DEFAULT_SOAK_THRESHOLDS.join(" ")})`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "fleet") {
    const values = parseFlags(rest, FLEET_FLAGS);
    const options = fleetOptions(values);
    checkThresholds(options.thresholds, figureNames());
    if (values["dry-run"]) return plan("fleet", options);
    const stop = interrupted();
    const result = await runFleet(options, { stopSignal: stop });
    return result.ok ? 0 : 1;
  }
  if (command === "baseline") {
    const values = parseFlags(rest, {
      port: { type: "string", default: "9090" },
      host: { type: "string", default: "127.0.0.1" },
    });
    const server = await startBaseline(Number(values.port), String(values.host));
    console.log(`baseline Socket.IO server (acks only) at ${server.url}; Ctrl-C stops it`);
    await interrupted();
    await server.close();
    return 0;
  }
  if (command === "soak") {
    const values = parseFlags(rest, SOAK_FLAGS);
    const { fleet, ...soak } = soakOptions(values);
    checkThresholds(fleet.thresholds, [...figureNames(), ...SOAK_FIGURES]);
    if (values["dry-run"]) return plan("soak", { ...fleet, ...soak });
    return (await runSoak(fleet, soak, interrupted())).ok ? 0 : 1;
  }
  if (command === "truth") {
    const values = parseFlags(rest, TRUTH_FLAGS);
    const options = truthOptions(values);
    checkThresholds(options.thresholds, [...figureNames(), ...TRUTH_FIGURES]);
    if (values["dry-run"]) return plan("truth", options);
    return (await runTruth(options)).ok ? 0 : 1;
  }
  throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
}

/** `--dry-run`: the options as they would be used (password left out), for scenario files and CI checks. */
function plan(command: string, options: object): number {
  console.log(JSON.stringify({ command, ...options, password: undefined }, null, 2));
  return 0;
}

/** A threshold that cannot be read or names no metric is a usage error, found before any device starts. */
export function checkThresholds(expressions: string[], names: string[]): void {
  try {
    checkNames(expressions.map(parseThreshold), names);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Ctrl-C ends the run early but still stops the devices cleanly and reports; a second one exits. */
export function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => {
      console.error("\nstopping (Ctrl-C again to quit at once)…");
      process.once("SIGINT", () => process.exit(130));
      resolve();
    });
    process.once("SIGTERM", () => resolve());
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(error.message);
      process.exit(2);
    }
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
