export * from "./cluster.js";
export * from "./ferretdb.js";
export * from "./nginx.js";
export * from "./node-process.js";
export * from "./ports.js";
export * from "./process.js";
export * from "./prometheus.js";
export * from "./redis.js";
