import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import type { QueuedBatch, QueueStorage } from "./queue.js";

/**
 * The offline queue in a JSON file (Node.js): each save writes a new file and renames it over the
 * old one, so a crash mid-save leaves the previous queue, never half of one.
 */
export class FileStorage implements QueueStorage {
  constructor(private readonly path: string) {}

  async load(): Promise<QueuedBatch[]> {
    try {
      return JSON.parse(await readFile(this.path, "utf8")) as QueuedBatch[];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
  }

  async save(batches: readonly QueuedBatch[]): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const next = `${this.path}.next`;
    const file = await open(next, "w");
    try {
      await file.writeFile(JSON.stringify(batches));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(next, this.path);
  }
}
