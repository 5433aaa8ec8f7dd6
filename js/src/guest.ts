// Guest tokens (lobby/PROTOCOL.md, POST /v1/guest) and the lobby's URLs.

import { fail } from "./errors.js";

/**
 * lobbyURL is the lobby's URL for path, from its base URL in any of the
 * schemes the Go client accepts (http, https, ws, wss), in the scheme
 * family asked for.
 */
export function lobbyURL(base: string | URL, path: string, ws: boolean): string {
  let u: URL;
  try {
    u = new URL(String(base));
  } catch {
    throw fail("bad_argument", `lobby: URL ${JSON.stringify(String(base))} is not absolute`);
  }
  const secure = ({ "http:": false, "ws:": false, "https:": true, "wss:": true } as Record<string, boolean>)[u.protocol];
  if (secure === undefined) throw fail("bad_argument", `lobby: URL ${JSON.stringify(String(base))}: scheme must be http, https, ws or wss`);
  u.protocol = ws ? (secure ? "wss:" : "ws:") : secure ? "https:" : "http:";
  u.pathname = u.pathname.replace(/\/+$/, "") + path;
  return u.href;
}

const statusCodes: Record<number, string> = { 403: "forbidden", 404: "guests_disabled", 429: "rate_limited" };

/** guestToken asks the lobby for a guest token (a new guest each time). */
export async function guestToken(base: string | URL, name = ""): Promise<string> {
  const url = lobbyURL(base, "/v1/guest", false);
  let resp: Response;
  try {
    resp = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: String(name ?? "") }),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (err) {
    throw fail("network", `lobby: guest token: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const body = await resp.text();
  if (!resp.ok) {
    throw fail(statusCodes[resp.status] ?? "http_error", `lobby: guest token: ${resp.status} ${resp.statusText}: ${body.trim()}`, { status: resp.status });
  }
  let token: unknown;
  try {
    token = (JSON.parse(body) as { token?: unknown }).token;
  } catch {
    // reported below
  }
  if (typeof token !== "string" || token === "") throw fail("protocol", `lobby: guest token answer ${JSON.stringify(body.slice(0, 100))}`);
  return token;
}
