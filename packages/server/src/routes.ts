import type { ApiRoutes } from "./http/app.js";
import { analyticsRoutes } from "./http/routes/analytics.js";
import { authRoutes } from "./http/routes/auth.js";
import { exportRoutes } from "./http/routes/export.js";
import { hazardRoutes } from "./http/routes/hazards.js";
import { mlRoutes } from "./http/routes/ml.js";
import { observationRoutes } from "./http/routes/observations.js";
import { presenceRoutes } from "./http/routes/presence.js";
import { segmentRoutes } from "./http/routes/segments.js";
import { presenceFeature } from "./presence/feature.js";
import type { RealtimeFeature } from "./realtime/features.js";
import { roadEvents } from "./realtime/road-events.js";

/** Every feature's HTTP routes, mounted under /api. */
export const apiRoutes: ApiRoutes[] = [
  authRoutes,
  presenceRoutes,
  observationRoutes,
  segmentRoutes,
  hazardRoutes,
  analyticsRoutes,
  exportRoutes,
  mlRoutes,
];

/** Every feature's Socket.IO handlers, attached to each authenticated connection. */
export const realtimeFeatures: RealtimeFeature[] = [presenceFeature, roadEvents];
