import { type Account, LoginSession, RoadPulseError } from "@roadpulse/client";

const STORED = "roadpulse.ops.session";
const DEVICES = "roadpulse.ops.device";

interface Stored {
  account: Account;
  refreshToken: string;
}

/**
 * Signs the operator in: a session kept for this tab (its refresh token in sessionStorage, so a
 * reload does not ask again), else the login form. Only observer and admin accounts may watch.
 */
export async function signIn(origin: string): Promise<LoginSession> {
  const restored = await restore(origin);
  if (restored !== null) return restored;
  return await askForLogin(origin);
}

/** This browser's device id for the account (nginx keeps a device on one node by it). */
export async function deviceIdFor(session: LoginSession): Promise<string> {
  const key = `${DEVICES}.${session.account.id}`;
  const known = localStorage.getItem(key);
  if (known !== null) return known;
  const deviceId = await session.registerDevice();
  localStorage.setItem(key, deviceId);
  return deviceId;
}

export function forget(): void {
  sessionStorage.removeItem(STORED);
}

function keep(session: LoginSession): void {
  const save = (refreshToken: string) =>
    sessionStorage.setItem(STORED, JSON.stringify({ account: session.account, refreshToken } satisfies Stored));
  session.onRefresh((tokens) => save(tokens.refreshToken));
  save(session.refreshToken);
}

async function restore(origin: string): Promise<LoginSession | null> {
  const raw = sessionStorage.getItem(STORED);
  if (raw === null) return null;
  try {
    const stored = JSON.parse(raw) as Stored;
    // Renewed at once: the access token is not kept, only the refresh token (the session's own
    // timer, due later, is replaced once this refresh lands).
    const session = new LoginSession(origin, stored.account, {
      token: "",
      refreshToken: stored.refreshToken,
      expiresIn: 30,
    });
    await session.refresh();
    keep(session);
    return session;
  } catch {
    forget();
    return null;
  }
}

function askForLogin(origin: string): Promise<LoginSession> {
  const dialog = document.getElementById("login-dialog") as HTMLDialogElement;
  const form = document.getElementById("login") as HTMLFormElement;
  const error = document.getElementById("login-error") as HTMLElement;
  dialog.showModal();
  return new Promise((resolve) => {
    form.addEventListener("submit", async function onSubmit(event) {
      event.preventDefault();
      const data = new FormData(form);
      error.hidden = true;
      try {
        const session = await LoginSession.login(origin, {
          email: String(data.get("email")),
          password: String(data.get("password")),
        });
        if (session.account.role !== "observer" && session.account.role !== "admin") {
          session.close();
          throw new RoadPulseError("FORBIDDEN", "This account is neither an observer nor an admin");
        }
        form.removeEventListener("submit", onSubmit);
        keep(session);
        dialog.close();
        resolve(session);
      } catch (failure) {
        error.textContent = failure instanceof Error ? failure.message : String(failure);
        error.hidden = false;
      }
    });
  });
}
