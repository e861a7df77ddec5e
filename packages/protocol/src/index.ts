export * from "./errors.js";
export * from "./events.js";
export * from "./health.js";
export * from "./ops.js";
export * from "./payloads.js";
export * from "./roads.js";
