import { MongoClient } from "mongodb";

const c = new MongoClient(process.argv[2]);
const col = c.db("updprobe").collection("s");
await col.drop().catch(() => {});
const N = Number(process.argv[3] ?? 3000);
for (let i = 0; i < N; i += 500)
  await col.insertMany(Array.from({ length: 500 }, (_, j) => ({ _id: `seg${i + j}`, samples: 0, folds: { l0: 0 } })));
const time = async (label, mk) => {
  const t = performance.now();
  for (let k = 0; k < 100; k++) {
    const ops = Array.from({ length: 10 }, (_, j) => mk(`seg${(k * 10 + j) % N}`, k + 1));
    await col.bulkWrite(ops, { ordered: true });
  }
  console.log(label, ((performance.now() - t) / 1000).toFixed(2), "s per 1000 upserts");
};
await time("_id only       ", (id) => ({
  updateOne: { filter: { _id: id }, update: { $inc: { samples: 1 } }, upsert: true },
}));
await time("_id + fold mark", (id, seq) => ({
  updateOne: {
    filter: { _id: id, "folds.l0": { $not: { $gte: seq } } },
    update: { $inc: { samples: 1 }, $set: { "folds.l0": seq } },
    upsert: true,
  },
}));
const t = performance.now();
for (let k = 0; k < 100; k++)
  await col.find({ _id: { $in: Array.from({ length: 10 }, (_, j) => `seg${(k * 10 + j) % N}`) } }).toArray();
console.log("find $in 10 x100", ((performance.now() - t) / 1000).toFixed(2));
await c.db("updprobe").dropDatabase();
await c.close();
