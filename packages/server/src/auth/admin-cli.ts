/**
 * The operator's command for roles: `node packages/server/dist/auth/admin-cli.js grant <email>
 * [admin|observer]` (admin when not given) or `revoke <email>` (back to user), against
 * `MONGODB_URI` (the nodes' own setting). No role is ever granted by registering: whoever
 * registered a listed address first would get it. A role change takes effect at the account's
 * next login or token refresh (tokens carry the role they were issued with).
 */
import type { Role } from "@roadpulse/protocol";
import { MongoClient } from "mongodb";
import { UsersRepository } from "../store/users.js";

const USAGE =
  "usage: admin-cli grant <email> [admin|observer] | revoke <email>   (MONGODB_URI names the database, as for the nodes)";
const GRANTABLE: readonly Role[] = ["admin", "observer"];
/** The store must answer within this long, or the command fails instead of hanging. */
const STORE_TIMEOUT_MS = 10_000;

async function main(argv: string[]): Promise<number> {
  const [command, email, granted = "admin", ...rest] = argv;
  const valid =
    email?.includes("@") === true &&
    rest.length === 0 &&
    ((command === "grant" && GRANTABLE.includes(granted as Role)) || (command === "revoke" && argv.length === 2));
  if (!valid || email === undefined) {
    console.error(USAGE);
    return 2;
  }
  const uri = process.env.MONGODB_URI || "mongodb://localhost:27017/roadpulse";
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: STORE_TIMEOUT_MS,
    socketTimeoutMS: STORE_TIMEOUT_MS,
  });
  try {
    const role: Role = command === "grant" ? (granted as Role) : "user";
    if (!(await new UsersRepository(client.db()).setRole(email, role))) {
      console.error(`no account is registered with ${email}`);
      return 1;
    }
    const article = role === "admin" || role === "observer" ? "an" : "a";
    console.log(`${email.toLowerCase()} is now ${article} ${role} (from their next login)`);
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
