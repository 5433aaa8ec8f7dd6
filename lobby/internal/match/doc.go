// Package match is the lobby's matchmaker: it turns queued tickets into
// matches, either new rooms or seats in running rooms that take backfill.
//
// It is pure logic. It starts no goroutines and never reads the clock: the
// lobby passes its own (injectable) clock's time to [Matchmaker.Window] and
// [Matchmaker.Tick], so the same calls with the same times always give the
// same matches, in tests and in production alike. A [Matchmaker] is owned by
// one goroutine and is not safe for concurrent use.
//
// # Tickets, parties and windows
//
// A [Ticket] is one party: Size players that are matched together or not at
// all, with one Rating the caller computed for the whole party. A ticket's
// rating window is how far from its own rating it accepts a match:
//
//	Window = InitialWindow + WindowGrowth * (seconds waited)
//	capped at MaxWindow when MaxWindow > 0
//
// where seconds waited is now - Since, taken as 0 when Since is after now.
// The window grows so that a ticket that finds no close match is eventually
// matched less closely rather than not at all; MaxWindow is the point past
// which a match would be too unfair to be worth making.
//
// # Rules of Tick
//
// Each call to [Matchmaker.Tick] applies these rules, in this order:
//
//  1. Buckets. Tickets are grouped by (Mode, Region) and never matched
//     across groups; rooms belong to the group of their own Mode and Region.
//     Groups are processed in ascending order of Mode, then Region. Nothing
//     depends on map iteration order or on the order of calls that queued
//     the tickets or registered distinct rooms: the same queue, rooms and time
//     give the same matches.
//
//  2. Anchors. Within a group, every ticket queued before the Tick is an
//     anchor in turn, in queue order: oldest Since first, ties broken by
//     the lesser ID. An anchor already taken by an earlier match of this
//     Tick is skipped; every other anchor gets its chance.
//
//  3. Compatibility. A ticket t is compatible with anchor a when
//     |t.Rating - a.Rating| <= min(Window(a), Window(t)), both windows taken
//     at the Tick's time. Both sides must accept: an old ticket with a wide
//     window does not pull in a new ticket whose own narrow window rejects
//     it. Candidates are only ever checked against the anchor, not against
//     each other, so two candidates on opposite sides of the anchor can be
//     up to twice the anchor's window apart.
//
//  4. Candidate order. The compatible, not yet matched tickets of the group
//     (the anchor excluded) are offered to an anchor nearest rating first,
//     that is by |t.Rating - a.Rating|, then older Since, then lesser ID. A
//     candidate is taken only if its whole party fits the seats left;
//     otherwise it is skipped and the next, possibly smaller, party is
//     offered. Offering stops when no seat is left.
//
//  5. Backfill first. If the group has an open room with Free >= a.Size and
//     |room.Rating - a.Rating| <= Window(a), the anchor goes there: the room
//     with the nearest rating, ties broken by fewest Free seats (to fill
//     rooms up rather than spread players thin), then lesser ID. The match
//     is the anchor followed by candidates (rule 4) into the room's
//     remaining free seats, and it is always made. Tick lowers the room's
//     Free by the players matched, and forgets the room once Free reaches 0.
//     Only the anchor's window is checked against the room's rating; the
//     other tickets are checked against the anchor, as in rule 3.
//
//  6. New room. Otherwise the anchor and candidates (rule 4) are gathered
//     into MaxPlayers seats. A full room is matched at once. A room of at
//     least MinPlayers is matched only once the anchor has waited at least
//     FillWait, so that a full match gets a chance first. Anything else is
//     no match: the anchor and every candidate it was offered stay queued
//     and remain available to later anchors of the same Tick.
//
// Matched tickets leave the queue. A [Match] lists its tickets anchor first,
// then in the order they were taken, and Tick returns matches in the order
// they were made.
//
// Free seats that Tick takes from a room are a reservation made by the
// matchmaker: when the game server reports its real count, the lobby sets it
// again with [Matchmaker.SetRoom].
//
// # Cost
//
// A group's tickets are kept in rating order: a Tick sorts only the tickets
// queued since the previous one and merges them in. An anchor then looks
// outward from its own position in that order only as far as its window
// reaches, stepping over tickets already matched in near constant time. A
// Tick thus costs O(n + k log k) for a group of n tickets of which k are
// new, plus, per anchor, the tickets within its window that it is offered
// before its match is full; it never scans a whole group for one anchor.
package match
