// Types for the two driver modules the insert-outcome test imports to build the driver's own
// errors: the driver ships no declarations for its internal paths.
declare module "mongodb/lib/bulk/common.js" {
  export const BulkWriteResult: unknown;
}

declare module "mongodb/lib/cmap/errors.js" {
  import type { MongoNetworkError } from "mongodb";
  export class PoolClearedOnNetworkError extends MongoNetworkError {
    constructor(pool: { address: string; serverError?: Error });
  }
}
