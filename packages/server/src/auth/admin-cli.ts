/**
 * The operator's command for roles: `node packages/server/dist/auth/admin-cli.js grant|revoke
 * <email>` against `MONGODB_URI` (the nodes' own setting). The admin role is never granted by
 * registering: whoever registered a listed address first would get it. A role change takes
 * effect at the account's next login (tokens carry the role they were issued with).
 */
import { MongoClient } from "mongodb";
import { UsersRepository } from "../store/users.js";

const USAGE = "usage: admin-cli grant|revoke <email>   (MONGODB_URI names the database, as for the nodes)";
/** The store must answer within this long, or the command fails instead of hanging. */
const STORE_TIMEOUT_MS = 10_000;

async function main(argv: string[]): Promise<number> {
  const [command, email] = argv;
  if ((command !== "grant" && command !== "revoke") || email === undefined || !email.includes("@")) {
    console.error(USAGE);
    return 2;
  }
  const uri = process.env.MONGODB_URI || "mongodb://localhost:27017/roadpulse";
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: STORE_TIMEOUT_MS,
    socketTimeoutMS: STORE_TIMEOUT_MS,
  });
  try {
    const role = command === "grant" ? "admin" : "user";
    if (!(await new UsersRepository(client.db()).setRole(email, role))) {
      console.error(`no account is registered with ${email}`);
      return 1;
    }
    console.log(`${email.toLowerCase()} is now ${role === "admin" ? "an admin" : "a user"} (from their next login)`);
    return 0;
  } finally {
    await client.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`admin-cli failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
