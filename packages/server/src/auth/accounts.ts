import { type AuthResponse, ErrorCodes, type PublicUser } from "@roadpulse/protocol";
import { AppError } from "../errors.js";
import { EmailTakenError, type UserDoc, type UsersRepository } from "../store/users.js";
import type { LoginBackoff } from "./login-backoff.js";
import type { LoginSessions } from "./login-sessions.js";
import { DUMMY_HASH_PROMISE, hashPassword, verifyPassword } from "./passwords.js";

export function publicUser(user: UserDoc): PublicUser {
  return {
    id: user._id.toHexString(),
    email: user.email,
    displayName: user.displayName,
    role: user.role,
    createdAt: user.createdAt.toISOString(),
  };
}

/**
 * Accounts: registration, login (a login session for a password), refresh and logout of sessions
 * (login-sessions.ts), and the account behind a token.
 */
export class Accounts {
  constructor(
    private readonly users: UsersRepository,
    private readonly sessions: LoginSessions,
    private readonly backoff: LoginBackoff,
  ) {}

  async register(input: { email: string; password: string; displayName: string }): Promise<AuthResponse> {
    const email = input.email.toLowerCase();
    const passwordHash = await hashPassword(input.password);
    // Every account starts as a user; the admin role is an operator's command (admin-cli.ts).
    const role = "user";
    let user: UserDoc;
    try {
      user = await this.users.create({ email, displayName: input.displayName.trim(), passwordHash, role });
    } catch (error) {
      if (error instanceof EmailTakenError) throw new AppError(ErrorCodes.Conflict, "This email is already registered");
      throw error;
    }
    return { user: publicUser(user), ...(await this.sessions.start(user)) };
  }

  async login(input: { email: string; password: string }): Promise<AuthResponse> {
    // An account that guessed wrong too often waits first, whichever password comes now.
    await this.backoff.check(input.email);
    const user = await this.users.findByEmail(input.email);
    // Unknown emails cost the same hash as known ones, so timing does not reveal accounts.
    const ok = await verifyPassword(input.password, user?.passwordHash ?? (await DUMMY_HASH_PROMISE));
    if (!user || !ok) {
      await this.backoff.failed(input.email);
      throw new AppError(ErrorCodes.Unauthorized, "Wrong email or password");
    }
    await this.backoff.succeeded(input.email);
    return { user: publicUser(user), ...(await this.sessions.start(user)) };
  }

  /** New tokens for a refresh token, which is used up (see LoginSessions.refresh). */
  async refresh(refreshToken: string): Promise<AuthResponse> {
    const { user, tokens } = await this.sessions.refresh(refreshToken);
    return { user: publicUser(user), ...tokens };
  }

  async logout(refreshToken: string): Promise<void> {
    await this.sessions.logout(refreshToken);
  }

  async get(userId: string): Promise<PublicUser> {
    const user = await this.users.findById(userId);
    if (!user) throw new AppError(ErrorCodes.NotFound, "This account no longer exists");
    return publicUser(user);
  }
}
