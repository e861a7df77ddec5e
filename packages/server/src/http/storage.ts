import { ErrorCodes } from "@roadpulse/protocol";
import { MongoNetworkError, MongoServerSelectionError } from "mongodb";
import { ApiError } from "./errors.js";

/** True for errors meaning "MongoDB is unreachable", as opposed to a bad request or a bug. */
export function isStorageUnavailable(error: unknown): boolean {
  return (
    error instanceof MongoServerSelectionError ||
    error instanceof MongoNetworkError ||
    (error instanceof Error && error.name === "MongoTopologyClosedError")
  );
}

/** Runs a storage call and turns "MongoDB unreachable" into 503 STORAGE_UNAVAILABLE. */
export async function storageCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isStorageUnavailable(error)) {
      throw new ApiError(503, ErrorCodes.StorageUnavailable, "Storage is unavailable, retry later");
    }
    throw error;
  }
}
