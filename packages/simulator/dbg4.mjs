import { MongoClient } from "mongodb";

const c = new MongoClient("mongodb://127.0.0.1:27117/roadpulse");
const db = c.db();
const ids = [
  "e333cfde-1dc8-472a-9b7c-d9d78570b785",
  "392ff03b-f05b-4fc2-876a-bcd0a0646940",
  "53f596fc-2ce5-43f7-82b9-0b5cd3cef3c4",
];
console.log(
  await db
    .collection("observations")
    .find({ _id: { $in: ids } })
    .toArray(),
);
console.log(await db.collection("observations").countDocuments());
await c.close();
