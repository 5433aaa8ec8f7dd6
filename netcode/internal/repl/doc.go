// Package repl is state replication's codec and bookkeeping: entity types
// and how their fields travel, the bit stream, world states that share
// unchanged entities, and the delta between two of them within a budget.
// netcode/REPLICATION.md specifies the format; this package follows it.
//
// Nothing here touches the network or a clock of its own, so that all of
// it is tested by feeding it states.
package repl
