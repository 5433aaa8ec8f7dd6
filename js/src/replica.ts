// The client's replicated world (netcode/REPLICATION.md, "Applying a
// state"): the states it decoded, newest last, each the delta of its
// message applied to the state it names as its base.
//
// States share what did not change: a state's entity map is a copy of its
// base's (pointers only), and an entity's object is replaced only when an
// update touches it, so keeping 64 states of 1000 entities costs 64 maps,
// not 64 000 entities, and comparing two states can skip every entity
// they share by reference.

import { BitReader, malformed } from "./bits.js";
import { type FieldValue, type TypeDef, parseType, readValue } from "./schema.js";

/** An entity of the world as the game reads it. Do not modify it: states share it. */
export interface Entity {
  readonly id: number;
  /** Its type's name. */
  readonly type: string;
  readonly fields: Readonly<Record<string, FieldValue>>;
}

/**
 * @internal An entity with its type and origin, as the replica keeps it;
 * both stay out of its own properties (JSON, spreads).
 *
 * Its origin (REPLICATION.md, "Origins") is the tick of the state whose
 * payload carried these values. A state makes a new Ent exactly for what
 * its payload creates or updates and shares its base's for the rest, so
 * the Ent's own tick is its origin in every state that holds it.
 */
export class Ent implements Entity {
  readonly type: string;
  readonly #def: TypeDef;
  readonly #origin: number;

  constructor(
    readonly id: number,
    def: TypeDef,
    readonly fields: Readonly<Record<string, FieldValue>>,
    origin: number,
  ) {
    this.type = def.name;
    this.#def = def;
    this.#origin = origin;
  }

  get def(): TypeDef {
    return this.#def;
  }

  /** The tick of the state that carried these values. */
  get origin(): number {
    return this.#origin;
  }
}

/** @internal One decoded state. */
export interface State {
  readonly tick: number;
  /** The server's clock when it made the tick, as the message carries it (nanoseconds from a Go server). */
  readonly time: number;
  /** By type id; shared with the base when the payload defines no type. */
  readonly types: readonly (TypeDef | undefined)[];
  /** Each entity's origin is its Ent's (Ent.origin): this tick for what the payload created or updated, the base's for the rest. */
  readonly entities: ReadonlyMap<number, Ent>;
  /** The ids its payload named, ascending: against its base, nothing else changed. */
  readonly named: readonly number[];
}

/** The changes a state brought, against the newest state before it; ids ascending. */
export interface StateChange {
  tick: number;
  created: number[];
  changed: number[];
  removed: number[];
}

/** @internal How many decoded states a client keeps (REPLICATION.md: at least the last 64). */
export const keptStates = 64;

const empty: State = { tick: 0, time: 0, types: [], entities: new Map(), named: [] };
const maxID = 2 ** 32 - 1;

/** @internal */
export class Replica {
  /** Newest last, at most keptStates. */
  readonly states: State[] = [];
  /** States kept; messages dropped as stale, and for a base no longer kept. */
  kept = 0;
  stale = 0;
  unknownBase = 0;

  get newest(): State | undefined {
    return this.states[this.states.length - 1];
  }

  /** state is the kept state of tick, if any. */
  state(tick: number): State | undefined {
    for (let i = this.states.length - 1; i >= 0; i--) if (this.states[i]!.tick === tick) return this.states[i];
    return undefined;
  }

  /**
   * apply applies a state message. It returns what changed, and the state
   * is kept and must be acknowledged; or undefined when it was dropped
   * (stale, or a base not kept: counted). A payload that breaks the rules
   * throws MalformedState and changes nothing.
   */
  apply(tick: number, base: number, time: number, payload: Uint8Array): StateChange | undefined {
    const prev = this.newest;
    if (tick <= (prev?.tick ?? 0)) {
      this.stale++;
      return undefined;
    }
    const from = base === 0 ? empty : this.state(base);
    if (!from || base >= tick) {
      this.unknownBase++;
      return undefined;
    }
    const s = decodeState(tick, time, from, payload);
    this.kept++;
    this.states.push(s);
    if (this.states.length > keptStates) this.states.shift();
    return diff(prev ?? empty, s, from === prev);
  }
}

/** @internal decodeState applies payload to base (REPLICATION.md, Payload and "Applying a state" step 3). */
export function decodeState(tick: number, time: number, base: State, payload: Uint8Array): State {
  const r = new BitReader(payload);
  let types = base.types;
  for (let n = r.varbits(); n > 0; n--) {
    const id = r.read(8);
    if (types[id]) throw malformed(`type ${id} defined again`);
    const t = parseType(id, r.bytes(r.varbits()));
    if (types === base.types) types = types.slice();
    (types as (TypeDef | undefined)[])[id] = t;
  }
  const entities = new Map(base.entities);
  const named: number[] = [];
  let id = -1;
  for (let n = r.varbits(); n > 0; n--) {
    id += r.varbits() + 1;
    if (id > maxID) throw malformed(`entity id ${id} over 2³² − 1`);
    named.push(id);
    const op = r.read(2);
    const old = base.entities.get(id);
    switch (op) {
      case 0: {
        if (!old) throw malformed(`update of entity ${id}, which the base does not have`);
        const fs = old.def.fields;
        const set: boolean[] = fs.map(() => r.bool());
        if (!set.includes(true)) throw malformed(`update of entity ${id} with an empty mask`);
        const fields = { ...old.fields };
        fs.forEach((f, i) => {
          if (set[i]) put(fields, f.name, readValue(r, f));
        });
        entities.set(id, new Ent(id, old.def, fields, tick));
        break;
      }
      case 1: {
        if (old) throw malformed(`create of entity ${id}, which the base has`);
        const tid = r.read(8);
        const def = types[tid];
        if (!def) throw malformed(`create of entity ${id} of type ${tid}, which is not defined`);
        const fields: Record<string, FieldValue> = {};
        for (const f of def.fields) put(fields, f.name, readValue(r, f));
        entities.set(id, new Ent(id, def, fields, tick));
        break;
      }
      case 2:
        if (!old) throw malformed(`removal of entity ${id}, which the base does not have`);
        entities.delete(id);
        break;
      default:
        throw malformed(`op 3 for entity ${id}`);
    }
  }
  r.end();
  return { tick, time, types, entities, named };
}

/** @internal put sets a field as an own property, even one named "__proto__" (spreads copy it as one). */
export function put(o: Record<string, FieldValue>, k: string, v: FieldValue): void {
  if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/**
 * @internal diff is what changed from a to b; when a is b's base, only
 * the ids b's payload named can have. An id whose type differs between
 * them is another entity: removed and created. Types are compared by id,
 * as a full state (base 0) sends them again.
 */
export function diff(a: State, b: State, isBase = false): StateChange {
  const c: StateChange = { tick: b.tick, created: [], changed: [], removed: [] };
  const ids = isBase ? b.named : [...new Set([...a.entities.keys(), ...b.entities.keys()])].sort((x, y) => x - y);
  for (const id of ids) {
    const o = a.entities.get(id);
    const e = b.entities.get(id);
    if (o === e) continue;
    if (!e) c.removed.push(id);
    else if (!o || o.def.id !== e.def.id) {
      c.created.push(id);
      if (o) c.removed.push(id);
    } else if (o.def.fields.some((f) => !same(o.fields[f.name]!, e.fields[f.name]!))) c.changed.push(id);
  }
  return c;
}

/** @internal same compares two values of one field. */
export function same(x: FieldValue, y: FieldValue): boolean {
  if (typeof x !== "object" || typeof y !== "object") return x === y;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
