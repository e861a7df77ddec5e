import { type Account, adminCli, register } from "./env.js";

/** An account the operator made an observer (`admin-cli grant <email> observer`), logged in again. */
export async function observerAccount(baseUrl: string, mongoUri: string, name = "observer"): Promise<Account> {
  const account = await register(baseUrl, name);
  const granted = await adminCli(mongoUri, "grant", account.email, "observer");
  if (granted.code !== 0) throw new Error(`admin-cli grant failed: ${granted.stderr}`);
  // Tokens carry the role they were issued with: the grant shows from the next login.
  const response = await fetch(`${baseUrl}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: account.email, password: account.password }),
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { token: string; user: { role: string } };
  if (body.user.role !== "observer") throw new Error(`expected an observer, got ${body.user.role}`);
  return { ...account, token: body.token };
}
