/**
 * Runs a benchmark's `main` and exits with its outcome: 0 once it resolved, 1 (after printing the
 * error) when it threw. The exit is explicit because a benchmark may leave handles open (a
 * cluster's child processes, sockets being closed) that would otherwise keep the process alive.
 */
export function runBenchmark(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
