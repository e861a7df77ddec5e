// Prints the figures the fault suite wrote (one JSON object per line, see
// packages/server/test/support/fault-figures.ts) as one table, with each figure's target.
import { readFileSync } from "node:fs";

const columns = [
  ["fault", "fault", null],
  ["devices", "devices", null],
  ["acked", "acked obs", null],
  ["ackedMissing", "acked missing", "0"],
  ["falseAcks", "false acks", "0"],
  ["backMs", "all back in", "≤ 10 s"],
  ["ghosts", "ghosts at 30 s", "0"],
  ["doubleServed", "double-served", "0"],
  ["doubleCounted", "double-counted", "0"],
  ["uncounted", "uncounted", "0"],
];
const rows = readFileSync(process.argv[2], "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line));
if (rows.length === 0) {
  console.log("\nNo fault was measured (see the test output above).");
  process.exit(0);
}
const cell = (row, key) => (key === "backMs" ? `${(row[key] / 1000).toFixed(1)} s` : String(row[key]));
const table = [
  columns.map(([, title]) => title),
  columns.map(([, , target]) => target ?? ""),
  ...rows.map((row) => columns.map(([key]) => cell(row, key))),
];
table[1][0] = "target";
const widths = columns.map((_, i) => Math.max(...table.map((line) => line[i].length)));
const line = (cells) =>
  `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
console.log("");
console.log(line(table[0]));
console.log(`|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 1)}-` : `${"-".repeat(w + 1)}:`)).join("|")}|`);
for (const cells of table.slice(1)) console.log(line(cells));

// What an operator saw during each run: every /health answer other than "200 ok", and the nodes'
// warnings and errors (message × times).
for (const row of rows) {
  console.log(`\n${row.fault}`);
  const health = row.health ?? [];
  console.log(`  /health: ${health.length === 0 ? "200 ok on every node throughout" : ""}`);
  for (const seen of health) console.log(`    ${seen}`);
  const logs = Object.entries(row.logs ?? {}).sort((a, b) => b[1] - a[1]);
  console.log(`  logs (warn and above): ${logs.length === 0 ? "none" : ""}`);
  for (const [message, times] of logs) console.log(`    ${times} × ${message}`);
}
