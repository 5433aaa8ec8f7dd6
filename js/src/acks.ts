// State acks riding on inputs (netcode/REPLICATION.md, "Acks"), as the Go
// client does them (netcode/ack.go). Each ack alone is a packet the server
// receives and SCTP acknowledges; a game that sends inputs sends as many
// packets anyway, so an ack waits for the next input to carry it, for no
// longer than the game's own interval between inputs.

/** A game whose last input is older than this (ms) sends none: acks go at once. */
export const inputRecent = 100;
/** The longest an ack waits for an input (ms): an older base costs the server bytes. */
export const maxAckHold = 20;

/** AckHold holds the ack of the newest state kept until an input carries it, or its time is up. Times are ms. */
export class AckHold {
  /** The tick held for the next input; 0 when none is. */
  tick = 0;
  /** When the held tick goes alone at the latest. */
  by = 0;
  #lastInput = 0;
  #gap = 0;

  /** hold is how long the ack of a state kept at now may wait: the game's last interval between inputs, while it sends them. */
  hold(now: number): number {
    if (this.#lastInput === 0 || now - this.#lastInput > inputRecent) return 0;
    return Math.min(this.#gap, maxAckHold);
  }

  /** state takes the ack of a state kept at now: true when it is held (until `by`), false when it must go alone at once. A newer ack replaces a held one and keeps its deadline. */
  state(tick: number, now: number): boolean {
    const h = this.hold(now);
    if (h <= 0) {
      this.tick = 0; // the ack going now covers a held one
      return false;
    }
    if (this.tick === 0) this.by = now + h;
    this.tick = tick;
    return true;
  }

  /** inputSent notes an input that went out at now carrying ack (0: none). */
  inputSent(ack: number, now: number): void {
    if (ack !== 0 && this.tick === ack) this.tick = 0;
    if (this.#lastInput !== 0) this.#gap = now - this.#lastInput;
    this.#lastInput = now;
  }

  /** due returns the held tick once its time is up, and lets it go; 0 otherwise. */
  due(now: number): number {
    if (this.tick === 0 || now < this.by) return 0;
    const t = this.tick;
    this.tick = 0;
    return t;
  }
}
