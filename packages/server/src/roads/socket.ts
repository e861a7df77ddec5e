import {
  ClientEvents,
  type HazardVote,
  HazardVoteSchema,
  type ObservationBatch,
  ObservationBatchSchema,
} from "@roadpulse/protocol";
import type { NodeContext } from "../context.js";
import { createPayloadAjv } from "../http/validation.js";
import { roadsOf } from "../roads/index.js";
import { handleEvent } from "./ack.js";
import type { RealtimeFeature } from "./features.js";
import type { AppSocket } from "./types.js";

const ajv = createPayloadAjv();
const validateBatch = ajv.compile<ObservationBatch>(ObservationBatchSchema);
const validateVote = ajv.compile<HazardVote>(HazardVoteSchema);

/**
 * How often a node looks for rounds and journal entries left by dead nodes (taken over once they
 * are JOURNAL_STALE_MS old), and for hazards past expiry.
 */
const RECOVERY_INTERVAL_MS = 10_000;
const EXPIRY_SWEEP_INTERVAL_MS = 60_000;

/**
 * Road data over Socket.IO: `observations:submit` (acked once the batch is durable) and
 * `hazard:vote`. Starting the feature also starts the node's background work: recovery of
 * aggregates left by a dead node and the hazard expiry sweep; stopping it lets the aggregator
 * finish what is queued and leave its lane free.
 */
export const roadEvents: RealtimeFeature = {
  name: "roads",
  attach(socket: AppSocket, ctx: NodeContext) {
    const roads = roadsOf(ctx);
    handleEvent(socket, ctx, ClientEvents.ObservationsSubmit, validateBatch, async (payload) =>
      roads.ingest.submit(payload.observations, { userId: socket.data.userId, deviceId: socket.data.deviceId }),
    );
    handleEvent(socket, ctx, ClientEvents.HazardVote, validateVote, async (payload) => ({
      hazard: await roads.hazards.vote(payload.hazardId, payload.stillThere, socket.data.deviceId),
    }));
  },
  start(ctx: NodeContext) {
    const roads = roadsOf(ctx);
    const background = (what: string, work: () => Promise<unknown>) => () => {
      if (!ctx.mongo.indexesReady) return;
      work().catch((error: unknown) => ctx.log.warn({ err: error }, `${what} failed; retrying later`));
    };
    const recovery = setInterval(
      background("aggregate recovery", () => roads.aggregator.recover()),
      RECOVERY_INTERVAL_MS,
    );
    const expiry = setInterval(
      background("hazard expiry sweep", () => roads.hazards.expireDue()),
      EXPIRY_SWEEP_INTERVAL_MS,
    );
    recovery.unref();
    expiry.unref();
    return async () => {
      clearInterval(recovery);
      clearInterval(expiry);
      await roads.aggregator.close();
    };
  },
};
