import { deflateRawSync } from "node:zlib";

/**
 * Whether a `JWT_SECRET` is fit to sign tokens outside development and test. Anyone who knows or
 * guesses the key mints tokens with any role, so it must be long, random and not a value that
 * ships in examples: the development default, the Kubernetes placeholder, words like "secret".
 * Randomness is estimated twice, and the lower figure counts: from the spread of its characters
 * (Shannon), which misses repeated patterns, and from its compressed size (raw deflate), which
 * catches them. `openssl rand -hex 32` (64 hex digits) scores about 245 bits and `openssl rand
 * -base64 32` about 210; `ab12` repeated 16 times 72, one character repeated 0. The estimate is a
 * floor against accidents, not proof of entropy.
 */

/** 32 bytes, the key size of HS256. */
export const MIN_SECRET_LENGTH = 32;
/** What a secret's characters must spread to (32 random bytes are 256 bits). */
export const MIN_SECRET_BITS = 128;

/** Fragments that only an example or a placeholder contains (compared case-insensitively). */
const PLACEHOLDERS = [
  "change-me",
  "changeme",
  "change_me",
  "placeholder",
  "example",
  "secret",
  "password",
  "roadpulse",
];

/** Why `secret` is refused, or null when it is acceptable. */
export function weakSecretReason(secret: string): string | null {
  if (secret.length < MIN_SECRET_LENGTH) {
    return `must be at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -hex 32)`;
  }
  const lower = secret.toLowerCase();
  const placeholder = PLACEHOLDERS.find((word) => lower.includes(word));
  if (placeholder !== undefined)
    return `looks like a placeholder (contains "${placeholder}"): use openssl rand -hex 32`;
  if (estimatedBits(secret) < MIN_SECRET_BITS)
    return "is not random enough (repeated or patterned): use openssl rand -hex 32";
  return null;
}

/** The lower of two estimates of the bits in `text`: Shannon's and its deflated size. */
export function estimatedBits(text: string): number {
  return Math.min(shannonBits(text), deflateRawSync(Buffer.from(text), { level: 9 }).length * 8);
}

/** Length × Shannon entropy of the character distribution, in bits. */
function shannonBits(text: string): number {
  const counts = new Map<string, number>();
  for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
  let perChar = 0;
  for (const count of counts.values()) {
    const p = count / text.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * text.length;
}
