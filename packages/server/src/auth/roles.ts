import { ErrorCodes, type Role } from "@roadpulse/protocol";
import { AppError } from "../errors.js";

/**
 * What each role may do (protocol `Roles`). Observers watch the network (the ops map): they never
 * report observations, move a device or vote on hazards, so an observer account handed to a wall
 * screen or a contractor cannot change the road map.
 */

/** Throws FORBIDDEN unless the account may report from its devices (users and admins). */
export function requireReporter(role: Role): void {
  if (role === "observer") {
    throw new AppError(ErrorCodes.Forbidden, "Observer accounts are read-only: they cannot report, move or vote");
  }
}

/** Throws FORBIDDEN unless the account may watch the cluster (observers and admins). */
export function requireObserver(role: Role): void {
  if (role !== "observer" && role !== "admin") {
    throw new AppError(ErrorCodes.Forbidden, "The ops map needs an observer or admin account");
  }
}
