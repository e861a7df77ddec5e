import type { ApiRoutes } from "./http/app.js";
import { authRoutes } from "./http/routes/auth.js";
import { presenceRoutes } from "./http/routes/presence.js";
import { presenceFeature } from "./presence/feature.js";
import type { RealtimeFeature } from "./realtime/features.js";

/** Every feature's HTTP routes, mounted under /api. */
export const apiRoutes: ApiRoutes[] = [authRoutes, presenceRoutes];

/** Every feature's Socket.IO handlers, attached to each authenticated connection. */
export const realtimeFeatures: RealtimeFeature[] = [presenceFeature];
