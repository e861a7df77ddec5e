/**
 * Whether a client address is this machine's own (the load generator, probes, the local cluster's
 * nginx forwarding local clients): the per-address limits do not count such clients.
 */
export function isLoopbackAddress(address: string): boolean {
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1";
}
