import { MongoClient } from "mongodb";

const c = new MongoClient(process.argv[2]);
const col = c.db("findprobe").collection("s");
await col.drop().catch(() => {});
const N = Number(process.argv[3] ?? 3000);
for (let i = 0; i < N; i += 500)
  await col.insertMany(Array.from({ length: 500 }, (_, j) => ({ _id: `seg${i + j}`, samples: 0, folds: { l0: 0 } })));
let t = performance.now();
for (let k = 0; k < 100; k++) await col.findOne({ _id: `seg${(k * 7) % N}` });
console.log("findOne _id x100 ms each", ((performance.now() - t) / 100).toFixed(1));
t = performance.now();
for (let k = 0; k < 20; k++)
  await Promise.all(Array.from({ length: 10 }, (_, j) => col.findOne({ _id: `seg${(k * 10 + j) % N}` })));
console.log("10 parallel findOne, per group ms", ((performance.now() - t) / 20).toFixed(1));
t = performance.now();
for (let k = 0; k < 20; k++)
  await col.find({ _id: { $in: Array.from({ length: 10 }, (_, j) => `seg${(k * 10 + j) % N}`) } }).toArray();
console.log("find $in 10, per query ms", ((performance.now() - t) / 20).toFixed(1));
t = performance.now();
for (let k = 0; k < 20; k++) await col.find({ _id: { $gte: `seg${k}`, $lt: `seg${k}~` } }).toArray();
console.log("find range, per query ms", ((performance.now() - t) / 20).toFixed(1));
await c.db("findprobe").dropDatabase();
await c.close();
