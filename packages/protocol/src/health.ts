import { type Static, Type } from "@sinclair/typebox";

/** `GET /health`, in the shape of the Redis integration guide plus the answering node's id. */
export const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal("ok"), Type.Literal("degraded")]),
  timestamp: Type.String({ format: "date-time" }),
  node: Type.String(),
  services: Type.Object({
    mongodb: Type.Union([Type.Literal("connected"), Type.Literal("disconnected")]),
    redis: Type.Union([Type.Literal("connected"), Type.Literal("disconnected"), Type.Literal("disabled")]),
    socketio: Type.Union([Type.Literal("active"), Type.Literal("inactive")]),
  }),
});
export type Health = Static<typeof HealthSchema>;
