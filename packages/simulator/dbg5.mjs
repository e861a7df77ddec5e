import { MongoClient } from "mongodb";

const c = new MongoClient("mongodb://127.0.0.1:27117/roadpulse");
const db = c.db();
for (const id of [
  "83e6eca3-d35f-404d-acba-bd1bb443bbca",
  "51cccbac-67c7-4e51-a143-bdb67596b4d3",
  "045fd33f-8def-42e1-9ef5-1a4de7c1b5a0",
])
  console.log(id, await db.collection("observations").findOne({ _id: id }));
console.log(await db.collection("ingest_batches").countDocuments());
await c.close();
