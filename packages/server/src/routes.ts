import type { ApiRoutes } from "./http/app.js";

/** Every feature's HTTP routes, mounted under /api. */
export const apiRoutes: ApiRoutes[] = [];
