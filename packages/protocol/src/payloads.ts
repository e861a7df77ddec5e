import { type Static, Type } from "@sinclair/typebox";

/**
 * Payload schemas of the Socket.IO events and the HTTP bodies. Every object is closed
 * (`additionalProperties: false`) and every number bounded, so a payload either matches exactly or
 * is refused as a whole: unknown keys, strings in number fields, NaN (which JSON turns into null)
 * and operator objects such as `{"$gt":""}` never reach the stores.
 */

const closed = { additionalProperties: false } as const;

export const Latitude = Type.Number({ minimum: -90, maximum: 90 });
export const Longitude = Type.Number({ minimum: -180, maximum: 180 });
/** Degrees clockwise from north. */
export const Heading = Type.Number({ minimum: 0, maximum: 360 });
/** Metres per second; 100 m/s (360 km/h) is beyond any road vehicle. */
export const Speed = Type.Number({ minimum: 0, maximum: 100 });
/** ISO 8601 instant, e.g. `2026-01-24T10:30:00Z`. */
export const Instant = Type.String({ format: "date-time", maxLength: 40 });
/** Geohash cell id (base32 alphabet without a, i, l, o). */
export const RegionId = Type.String({ pattern: "^[0-9b-hjkmnp-z]{1,12}$" });

/**
 * A device id: issued by the server to one account (`POST /api/devices`, once per installation),
 * sent in the Socket.IO handshake and in the `X-Device-Id` header of HTTP uploads; nginx hashes on
 * it for stickiness. An id the server did not issue to the token's account is refused.
 */
export const DEVICE_ID_PATTERN = "^[A-Za-z0-9._:-]{8,128}$";

export const LocationUpdateSchema = Type.Object(
  {
    latitude: Latitude,
    longitude: Longitude,
    accuracy: Type.Optional(Type.Number({ minimum: 0, maximum: 100_000 })),
    speed: Type.Optional(Speed),
    heading: Type.Optional(Heading),
    recordedAt: Type.Optional(Instant),
  },
  closed,
);
export type LocationUpdate = Static<typeof LocationUpdateSchema>;

export const HeartbeatSchema = Type.Object({}, closed);
export type Heartbeat = Static<typeof HeartbeatSchema>;

export const ObservationEventTypes = ["pothole", "bump"] as const;
export type ObservationEventType = (typeof ObservationEventTypes)[number];

/** Largest batch accepted by `observations:submit` and `POST /api/observations`. */
export const MAX_OBSERVATION_BATCH = 500;

/**
 * One observation as the device sends it. Items are checked one by one (a bad item is rejected by
 * id, the rest of the batch is stored), so the batch schema only requires objects and this schema is
 * applied per item by the server.
 */
export const ObservationSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    latitude: Latitude,
    longitude: Longitude,
    recordedAt: Instant,
    roughness: Type.Number({ minimum: 0, maximum: 50 }),
    speed: Type.Optional(Speed),
    heading: Type.Optional(Heading),
    event: Type.Optional(Type.Union(ObservationEventTypes.map((e) => Type.Literal(e)))),
  },
  closed,
);
export type Observation = Static<typeof ObservationSchema>;

export const ObservationBatchSchema = Type.Object(
  {
    observations: Type.Array(Type.Object({}), { minItems: 1, maxItems: MAX_OBSERVATION_BATCH }),
  },
  closed,
);
export type ObservationBatch = { observations: unknown[] };

export const RejectedObservationSchema = Type.Object({ id: Type.String(), code: Type.String() });
export type RejectedObservation = Static<typeof RejectedObservationSchema>;

export const ObservationAckSchema = Type.Object({
  accepted: Type.Integer(),
  duplicates: Type.Integer(),
  rejected: Type.Array(RejectedObservationSchema),
});
export type ObservationAck = Static<typeof ObservationAckSchema>;

export const HazardVoteSchema = Type.Object(
  {
    hazardId: Type.String({ pattern: "^[0-9a-f]{24}$" }),
    stillThere: Type.Boolean(),
  },
  closed,
);
export type HazardVote = Static<typeof HazardVoteSchema>;

export const PresenceUpdatedSchema = Type.Object({
  regionId: RegionId,
  count: Type.Integer({ minimum: 0 }),
});
export type PresenceUpdated = Static<typeof PresenceUpdatedSchema>;

export const RegisterBodySchema = Type.Object(
  {
    email: Type.String({ format: "email", maxLength: 254 }),
    password: Type.String({ minLength: 8, maxLength: 128 }),
    displayName: Type.String({ minLength: 1, maxLength: 64 }),
  },
  closed,
);
export type RegisterBody = Static<typeof RegisterBodySchema>;

export const LoginBodySchema = Type.Object(
  {
    email: Type.String({ format: "email", maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 128 }),
  },
  closed,
);
export type LoginBody = Static<typeof LoginBodySchema>;

/**
 * What an account may do: `user` reports from its devices; `observer` reads only (the live ops
 * map, presence and the nodes' health) and may not report, vote or move; `admin` may do both and
 * sees presence member lists. Roles are an operator's command (`admin-cli`), never self-chosen.
 */
export const Roles = ["user", "observer", "admin"] as const;
export type Role = (typeof Roles)[number];

export const PublicUserSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  displayName: Type.String(),
  role: Type.Union(Roles.map((role) => Type.Literal(role))),
  createdAt: Type.String(),
});
export type PublicUser = Static<typeof PublicUserSchema>;

/**
 * A login, registration or refresh: `token` is the short-lived access token (bearer, Socket.IO
 * `auth.token`) valid `expiresIn` seconds; `refreshToken` gets the next pair once, from
 * `POST /api/auth/refresh` (using one twice ends the session).
 */
export const AuthResponseSchema = Type.Object({
  user: PublicUserSchema,
  token: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer({ minimum: 1 }),
});
export type AuthResponse = Static<typeof AuthResponseSchema>;

/** `POST /api/auth/refresh` and `POST /api/auth/logout`. */
export const RefreshBodySchema = Type.Object({ refreshToken: Type.String({ minLength: 1, maxLength: 4096 }) }, closed);
export type RefreshBody = Static<typeof RefreshBodySchema>;

/** `POST /api/devices`: the id this installation uses from now on, bound to the account. */
export const DeviceRegistrationSchema = Type.Object({ deviceId: Type.String({ pattern: DEVICE_ID_PATTERN }) });
export type DeviceRegistration = Static<typeof DeviceRegistrationSchema>;
