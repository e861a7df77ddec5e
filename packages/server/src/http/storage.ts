import { ErrorCodes } from "@roadpulse/protocol";
import { isStorageUnavailable } from "../store/errors.js";
import { ApiError } from "./errors.js";

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
