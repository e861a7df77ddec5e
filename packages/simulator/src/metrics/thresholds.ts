export interface Threshold {
  expression: string;
  metric: string;
  operator: "<" | "<=" | ">" | ">=" | "==" | "!=";
  limit: number;
}

export interface ThresholdResult extends Threshold {
  value: number | null;
  ok: boolean;
}

const PATTERN = /^\s*([a-z][a-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;

/** `obs_ack_p99<250`, `errors==0`: a metric name from the report, an operator and a number (k6 style). */
export function parseThreshold(expression: string): Threshold {
  const match = PATTERN.exec(expression);
  if (!match) throw new Error(`threshold "${expression}" must look like obs_ack_p99<250 or errors==0`);
  return {
    expression: expression.trim(),
    metric: match[1] as string,
    operator: match[2] as Threshold["operator"],
    limit: Number(match[3]),
  };
}

function holds(value: number, operator: Threshold["operator"], limit: number): boolean {
  switch (operator) {
    case "<":
      return value < limit;
    case "<=":
      return value <= limit;
    case ">":
      return value > limit;
    case ">=":
      return value >= limit;
    case "==":
      return value === limit;
    case "!=":
      return value !== limit;
  }
}

/**
 * Evaluates thresholds against the run's figures. A metric without data (a p99 of no samples) breaks
 * its threshold: a load test that measured nothing has not passed.
 */
export function evaluate(thresholds: Threshold[], figures: Record<string, number>): ThresholdResult[] {
  return thresholds.map((threshold) => {
    const value = figures[threshold.metric];
    const known = value !== undefined && Number.isFinite(value);
    return {
      ...threshold,
      value: known ? value : null,
      ok: known && holds(value, threshold.operator, threshold.limit),
    };
  });
}

/** Checks names before a run starts, so a typo fails in a second rather than after an hour. */
export function checkNames(thresholds: Threshold[], known: string[]): void {
  const names = new Set(known);
  const unknown = thresholds.filter((t) => !names.has(t.metric)).map((t) => t.metric);
  if (unknown.length > 0) {
    throw new Error(`unknown threshold metric(s): ${unknown.join(", ")}; known: ${[...names].sort().join(" ")}`);
  }
}
