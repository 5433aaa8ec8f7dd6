// Errors of the client API. Every Error the API throws or rejects with has a
// code: the lobby's own for a refused request (lobby/PROTOCOL.md, "Error
// codes"), else one of Tickwire's (ErrorCode), so that a game can switch on
// it; an Error without one would be a bug.

/** Tickwire's own codes; a refused lobby request carries the lobby's code. */
export type ErrorCode =
  | "closed"
  | "timeout"
  | "bad_argument"
  | "too_large"
  | "event_buffer_full"
  | "signaling"
  | "protocol"
  | "connection_lost"
  | "resume_rejected"
  | "refused"
  | "slow_reader"
  | "network"
  | "forbidden"
  | "guests_disabled"
  | "rate_limited"
  | "http_error";

/** An Error with a code, as every error of this package is. */
export class TickwireError extends Error {
  /** Tickwire's ErrorCode, or the lobby's code for a refused request ("room_not_found", "busy"...). */
  readonly code: string;
  /** The HTTP status, for the guest token request. */
  readonly status?: number;

  constructor(code: string, message: string, opts?: { cause?: unknown; status?: number }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "TickwireError";
    this.code = code;
    if (opts?.status !== undefined) this.status = opts.status;
  }
}

export const fail = (code: string, message: string, opts?: { cause?: unknown; status?: number }): TickwireError =>
  new TickwireError(code, message, opts);

/** badArgument is a value the API cannot take. */
export const badArgument = (message: string): TickwireError => fail("bad_argument", "tickwire: " + message);

/** errorMessage is what err says, whatever it is. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * report hands what a game's callback threw to the page, as an uncaught
 * error would be (window "error"), without stopping delivery.
 */
export function report(err: unknown): void {
  const g = globalThis as { reportError?: (e: unknown) => void };
  if (typeof g.reportError === "function") g.reportError(err);
  else
    setTimeout(() => {
      throw err;
    });
}
