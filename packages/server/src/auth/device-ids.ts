import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { ErrorCodes } from "@roadpulse/protocol";
import { AppError } from "../errors.js";

/** Bytes of the tag that binds a device id to its account (128 bits: not guessable). */
const TAG_BYTES = 16;
/** The nonce part: letters, digits, `_`, `:` and `-` (never `.`, which separates the tag). */
const NONCE = /^[A-Za-z0-9_:-]{4,80}$/;
const TAG = /^[A-Za-z0-9_-]{22}$/;

/**
 * Device ids the server issues, bound to one account: `<nonce>.<tag>`, where the tag is an HMAC of
 * the account id and the nonce under a key derived from `JWT_SECRET`. Any node verifies an id
 * another node issued without a store call, an id is useless to any other account, and a client
 * cannot make one up: devices get theirs once from `POST /api/devices`. The ids stay within the
 * protocol's device id pattern, so nginx keeps hashing on them for stickiness.
 */
export class DeviceIds {
  readonly #key: Buffer;

  constructor(secret: string) {
    // A key of its own: a device id's tag never doubles as anything signed with the JWT key.
    this.#key = Buffer.from(hkdfSync("sha256", secret, "roadpulse", "roadpulse device ids", 32));
  }

  /** A new device id for the account. */
  issue(userId: string): string {
    return this.withNonce(userId, randomBytes(16).toString("base64url"));
  }

  /**
   * The id with a chosen nonce. Only the server and holders of `JWT_SECRET` (its own tests and
   * tools) can compute one.
   */
  withNonce(userId: string, nonce: string): string {
    if (!NONCE.test(nonce)) throw new Error("a device id nonce is 4-80 letters, digits or _ : -");
    return `${nonce}.${this.#tag(userId, nonce)}`;
  }

  /** True when `deviceId` was issued to `userId`. */
  verify(userId: string, deviceId: unknown): boolean {
    if (typeof deviceId !== "string") return false;
    const dot = deviceId.lastIndexOf(".");
    const nonce = deviceId.slice(0, dot);
    const tag = deviceId.slice(dot + 1);
    if (dot < 0 || !NONCE.test(nonce) || !TAG.test(tag)) return false;
    return timingSafeEqual(Buffer.from(tag), Buffer.from(this.#tag(userId, nonce)));
  }

  /** The error a device id not issued to `userId` gets (handshake and uploads alike); null when it was. */
  refusal(userId: string, deviceId: unknown): AppError | null {
    if (this.verify(userId, deviceId)) return null;
    return new AppError(ErrorCodes.Forbidden, "This device id was not issued to this account: POST /api/devices");
  }

  #tag(userId: string, nonce: string): string {
    return createHmac("sha256", this.#key)
      .update(`${userId}\0${nonce}`)
      .digest()
      .subarray(0, TAG_BYTES)
      .toString("base64url");
  }
}
