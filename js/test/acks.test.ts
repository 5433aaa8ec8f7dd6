// State acks held for inputs (acks.ts; netcode/REPLICATION.md, "Acks"),
// against the same cases as the Go client's netcode/ack_test.go.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AckHold, inputRecent, maxAckHold } from "../src/acks.js";

test("an ack waits for an input for the game's last interval between inputs, at most maxAckHold, and only while inputs flow", () => {
  const cases: [string, number[], number, number][] = [
    // name, inputs sent at, now, want
    ["no input yet", [], 1000, 0],
    ["one input", [995], 1000, 0],
    ["inputs 10 ms apart", [985, 995], 1000, 10],
    ["inputs 50 ms apart", [945, 995], 1000, maxAckHold],
    ["inputs stopped", [880, 890], 891 + inputRecent, 0],
  ];
  for (const [name, inputs, now, want] of cases) {
    const a = new AckHold();
    for (const t of inputs) a.inputSent(0, t);
    assert.equal(a.hold(now), want, name);
  }
});

test("a held ack is replaced by a newer one without a later deadline, leaves with the input that carries it, and goes alone when its time is up", () => {
  const a = new AckHold();
  assert.equal(a.state(3, 100), false, "no inputs: alone at once");
  a.inputSent(0, 100);
  a.inputSent(0, 110);
  assert.equal(a.state(4, 112), true);
  assert.deepEqual([a.tick, a.by], [4, 122]);
  assert.equal(a.state(5, 115), true);
  assert.deepEqual([a.tick, a.by], [5, 122], "the newer ack keeps the deadline");
  a.inputSent(4, 116);
  assert.equal(a.tick, 5, "an input that carried the older ack leaves the newer held");
  assert.equal(a.due(121), 0, "not yet due");
  assert.equal(a.due(122), 5);
  assert.equal(a.tick, 0, "let go once due");
  assert.equal(a.state(6, 125), true);
  a.inputSent(6, 126);
  assert.equal(a.due(1000), 0, "the input carried it");
});
